"""Data-parallel training of a torch model on Ray Train (`lmrec train M --workers N`).

Ray Train's TorchTrainer starts N workers (on a local Ray or on a cluster) and joins
them in a torch.distributed process group (gloo on CPUs, NCCL on GPUs). Each worker
builds the model from the same name and config, reads the training data from Ray's
object store and runs the usual fit, with `FitOptions.replicas` telling the shared epoch
loop to take its share of the batches and average gradients (lmrec.training.replicas).
Early stopping and checkpoints follow the first worker, so they behave as in one
process. The first worker then saves the fitted model as a Ray Train checkpoint, and the
driver loads it from there.

`batch_size` is per worker, as in torch's DistributedDataParallel: N workers take N
batches per step. Ray is imported only when this runs.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lmrec.core.options import FitOptions
from lmrec.data.dataset import Dataset
from lmrec.errors import ConfigError, LmrecError
from lmrec.models.artifacts import load_model
from lmrec.models.base import Recommender
from lmrec.models.ray_session import ray_session

#: what the checkpoint directory holds: the model saved by the first worker
_MODEL_SUBDIR = "model"
#: seconds the worker group may take to start (RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S)
WORKER_START_S = 600


@dataclass(frozen=True)
class DistributedFit:
    """How the distributed training went (what the first worker reported)."""

    workers: int
    epochs_run: int
    best_epoch: int
    best_metric: float | None
    stopped_early: bool
    seconds_per_epoch: float
    #: Ray nodes the workers ran on
    nodes: int


def fit_on_ray(
    model: Recommender[Any],
    train: Dataset,
    valid: Dataset | None,
    options: FitOptions,
    *,
    workers: int,
    address: str | None = None,
    storage: str | None = None,
) -> tuple[Recommender[Any], DistributedFit]:
    """Fit `model`'s name and config on `workers` Ray Train workers; returns the fitted
    model (loaded from the first worker's checkpoint) and what training reported.

    `storage`: where Ray Train keeps the checkpoint; on a cluster of several machines it
    must be a path every node and this process see (NFS, or s3://...). Default: a
    temporary directory here, enough for a local Ray or a one-machine cluster."""
    from lmrec.models.neural.torch_base import TorchRecommender

    if not isinstance(model, TorchRecommender):
        raise ConfigError(
            f"--workers trains torch models (sasrec, gru4rec, hybrid, ncf) data-parallel; "
            f"{model.name} fits in one process: leave out --workers"
        )
    if workers < 1:
        raise ConfigError(f"workers must be at least 1 (got {workers})")
    use_gpu = (options.device or "").startswith("cuda")
    # Each worker imports torch and lmrec before it joins; Ray Train's default of 60 s for
    # the whole group to start is too short on a busy machine (a setting here wins).
    os.environ.setdefault("RAY_TRAIN_WORKER_GROUP_START_TIMEOUT_S", str(WORKER_START_S))
    scratch = tempfile.mkdtemp(prefix="lmrec-ray-train-")
    try:
        with ray_session(address, cpus=workers, what="training with --workers") as ray:
            result = _run(ray, model, train, valid, options, workers, use_gpu, storage or scratch)
            with result.checkpoint.as_directory() as directory:
                fitted = load_model(Path(directory) / _MODEL_SUBDIR, _driver_options(options))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    m = result.metrics
    return fitted, DistributedFit(
        workers=workers,
        epochs_run=int(m["epochs_run"]),
        best_epoch=int(m["best_epoch"]),
        best_metric=m.get("best_metric"),
        stopped_early=bool(m["stopped_early"]),
        seconds_per_epoch=float(m["seconds_per_epoch"]),
        nodes=int(m["nodes"]),
    )


def _driver_options(options: FitOptions) -> FitOptions:
    """How the returned model runs here: the same device and threads, no training hooks."""
    return FitOptions(device=options.device, threads=options.threads)


def _run(
    ray: Any,
    model: Recommender[Any],
    train: Dataset,
    valid: Dataset | None,
    options: FitOptions,
    workers: int,
    use_gpu: bool,
    storage: str,
) -> Any:
    from ray.train import RunConfig, ScalingConfig, TrainingFailedError
    from ray.train.torch import TorchConfig, TorchTrainer

    job = {
        "model": model.name,
        "config": model.config.model_dump(mode="json"),
        "train": ray.put(train),
        "valid": None if valid is None else ray.put(valid),
        "use_gpu": use_gpu,
        "threads": options.threads or 1,
        "progress": options.progress,
        "checkpoint_dir": None if options.checkpoint_dir is None else str(options.checkpoint_dir),
        "resume": options.resume,
    }
    trainer = TorchTrainer(
        _train_worker,
        train_loop_config=job,
        scaling_config=ScalingConfig(
            num_workers=workers, use_gpu=use_gpu, resources_per_worker={"CPU": 1}
        ),
        torch_config=TorchConfig(backend="nccl" if use_gpu else "gloo"),
        run_config=RunConfig(name=f"lmrec-{model.name}", storage_path=storage),
    )
    try:
        return trainer.fit()
    except TrainingFailedError as exc:
        # a user error inside a worker (bad data, a setting) is reported as in one process
        for failure in getattr(exc, "worker_failures", {}).values():
            if isinstance(failure, LmrecError):
                raise failure from None
        raise


def _train_worker(job: dict[str, Any]) -> None:
    """One Ray Train worker: the usual fit as one replica; the first saves the model."""
    import ray
    import ray.train
    import torch
    import torch.distributed as dist
    from ray.train import Checkpoint
    from ray.train.torch import get_device

    from lmrec.models.registry import create_model
    from lmrec.training.replicas import Replicas

    device = get_device() if job["use_gpu"] else torch.device("cpu")
    replicas = Replicas.from_process_group(device)
    model = create_model(job["model"], job["config"])
    train = ray.get(job["train"])
    valid = None if job["valid"] is None else ray.get(job["valid"])
    checkpoint_dir = job["checkpoint_dir"]
    options = FitOptions(
        device=str(device),
        threads=job["threads"],
        progress=job["progress"] and replicas.primary,
        checkpoint_dir=None if checkpoint_dir is None else Path(checkpoint_dir),
        resume=job["resume"],
        report=_report,
        replicas=replicas,
    )
    model.fit(train, valid, options)
    nodes: list[str | None] = [None] * replicas.world_size
    dist.all_gather_object(nodes, ray.get_runtime_context().get_node_id())
    training = getattr(model, "training_", None)
    metrics = {
        "nodes": len(set(nodes)),
        "epochs_run": 0 if training is None else training.epochs_run,
        "best_epoch": -1 if training is None else training.best_epoch,
        "best_metric": None if training is None else training.best_metric,
        "stopped_early": False if training is None else training.stopped_early,
        "seconds_per_epoch": 0.0 if training is None else training.seconds_per_epoch,
    }
    with tempfile.TemporaryDirectory() as directory:
        checkpoint = None
        if replicas.primary:
            model.save(Path(directory) / _MODEL_SUBDIR)
            checkpoint = Checkpoint.from_directory(directory)
        ray.train.report(metrics, checkpoint=checkpoint)


def _report(line: str) -> None:
    # a worker's stdout is shown by the driver, prefixed with the worker's name
    print(line, flush=True)
