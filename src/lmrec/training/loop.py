"""The shared epoch loop for torch models.

The model owns only its network; the optimizer, the loss (inside the task) and the
early-stopping state live here, so what a model saves is exactly what it serves.

Each epoch reseeds torch and NumPy from (seed, epoch), so a run resumed from a
checkpoint takes the same batches and dropout masks as one that never stopped.
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from lmrec.errors import ConfigError
from lmrec.training.checkpoint import (
    CheckpointState,
    EpochRecord,
    load_checkpoint,
    save_checkpoint,
)
from lmrec.training.replicas import Replicas


class EpochTask(Protocol):
    """What the loop needs from a model family: batches, a loss per batch, a metric."""

    def batches(self, rng: np.random.Generator) -> Iterable[Any]:
        """The batches of one epoch, shuffled with `rng`."""
        ...

    def loss(self, batch: Any) -> torch.Tensor:
        """Scalar training loss of one batch (the network is in train mode)."""
        ...

    def validate(self) -> float | None:
        """Validation NDCG@10 (network in eval mode, no grad), or None without data."""
        ...


@dataclass(frozen=True)
class LoopSettings:
    epochs: int
    lr: float = 1e-3
    weight_decay: float = 0.0
    patience: int = 10
    seed: int = 42
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    progress: bool = False
    checkpoint_dir: Path | None = None
    resume: bool = False
    max_grad_norm: float | None = 5.0
    #: keep an exponential moving average of the weights (this decay per step) and
    #: validate, keep and return the average instead of the raw weights
    ema_decay: float | None = None
    metric_name: str = "ndcg@10"
    #: where epoch lines go when `progress` is on (None: a progress bar on stderr)
    report: Callable[[str], None] | None = None
    #: called after each epoch with (epoch, validation metric); may raise to stop
    on_epoch: Callable[[int, float | None], None] | None = None
    #: this process's place in a data-parallel run (None: training alone); see replicas.py
    replicas: Replicas | None = None

    def __post_init__(self) -> None:
        if self.epochs < 1:
            raise ConfigError(f"epochs must be at least 1 (got {self.epochs})")
        if self.patience < 1:
            raise ConfigError(f"patience must be at least 1 (got {self.patience})")
        if self.lr <= 0:
            raise ConfigError(f"lr must be positive (got {self.lr})")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ConfigError(f"ema_decay must be between 0 and 1 (got {self.ema_decay})")


@dataclass
class TrainResult:
    """What happened during training (kept by the model for reports, not for serving)."""

    best_epoch: int
    best_metric: float | None
    epochs_run: int
    stopped_early: bool
    history: list[EpochRecord] = field(default_factory=list)

    @property
    def seconds_per_epoch(self) -> float:
        timed = [r.seconds for r in self.history]
        return float(np.mean(timed)) if timed else math.nan

    @property
    def cpu_seconds_per_epoch(self) -> float:
        timed = [r.cpu_seconds for r in self.history]
        return float(np.mean(timed)) if timed else math.nan


def epoch_seed(seed: int, epoch: int) -> int:
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


def run_training(module: nn.Module, task: EpochTask, settings: LoopSettings) -> TrainResult:
    """Train `module` with AdamW; with validation, stop after `patience` epochs without a
    better NDCG@10 and leave the best weights in the module."""
    optimizer = torch.optim.AdamW(
        [p for p in module.parameters() if p.requires_grad],
        lr=settings.lr,
        weight_decay=settings.weight_decay,
    )
    state = CheckpointState()
    best_weights: dict[str, torch.Tensor] | None = None
    ckpt = settings.checkpoint_dir
    average = WeightAverage(module, settings.ema_decay) if settings.ema_decay else None
    if settings.resume and ckpt is not None and (ckpt / "state.json").exists():
        state, best_weights, averaged = load_checkpoint(ckpt, module, optimizer, settings.device)
        if average is not None and averaged is not None:
            average.weights = averaged
    replicas = settings.replicas
    primary = replicas is None or replicas.primary
    if replicas is not None:
        replicas.share_weights(module)
    bar = _progress_bar(settings, start=state.epochs_done) if primary else None
    stopped_early = False
    for epoch in range(state.epochs_done, settings.epochs):
        if state.bad_epochs >= settings.patience:
            stopped_early = True
            break
        started, cpu_started = time.perf_counter(), time.process_time()
        rng = np.random.default_rng(epoch_seed(settings.seed, epoch))
        torch.manual_seed(epoch_seed(settings.seed, epoch))
        module.train()
        total, count = 0.0, 0
        batches = task.batches(rng)
        for batch in batches if replicas is None else replicas.shard(batches):
            optimizer.zero_grad(set_to_none=True)
            loss = task.loss(batch)
            loss.backward()
            if replicas is not None:
                replicas.average_gradients(module)
            if settings.max_grad_norm:
                nn.utils.clip_grad_norm_(module.parameters(), settings.max_grad_norm)
            optimizer.step()
            if average is not None:
                average.update()
            total += float(loss.detach())
            count += 1
        module.eval()
        metric = None
        if primary:
            with torch.no_grad(), _evaluated_as(module, average):
                metric = task.validate()
        mean_loss = total / max(count, 1)
        if replicas is not None:  # every replica decides on the first one's metric
            metric, mean_loss = replicas.share_metric(metric), replicas.mean(mean_loss)
        record = EpochRecord(
            epoch,
            mean_loss,
            metric,
            time.perf_counter() - started,
            time.process_time() - cpu_started,
        )
        state.history.append(record)
        state.epochs_done = epoch + 1
        # ties go to the later epoch: equally good on validation, and trained longer
        improved = metric is None or state.best_metric is None or metric >= state.best_metric
        if improved:
            state.best_metric, state.best_epoch, state.bad_epochs = metric, epoch, 0
            best_weights = _snapshot(module) if average is None else average.snapshot()
        else:
            state.bad_epochs += 1
        if ckpt is not None and primary:
            save_checkpoint(
                ckpt,
                module,
                optimizer,
                state,
                best_weights if improved else None,
                None if average is None else average.weights,
            )
        shown = "-" if metric is None else f"{metric:.4f}"
        if bar is not None:
            bar.set_postfix(loss=f"{record.loss:.4f}", **{settings.metric_name: shown})
            bar.update(1)
        elif settings.progress and settings.report is not None and primary:
            best = "" if state.best_metric is None else f", best {state.best_metric:.4f}"
            settings.report(
                f"epoch {epoch + 1}/{settings.epochs}: loss {record.loss:.4f}, "
                f"{settings.metric_name} {shown}{best} ({record.seconds:.1f}s)"
            )
        if settings.on_epoch is not None:
            settings.on_epoch(epoch, metric)
    else:
        stopped_early = state.bad_epochs >= settings.patience
    if bar is not None:
        bar.close()
    if best_weights is not None:
        module.load_state_dict(best_weights)
    module.eval()
    return TrainResult(
        best_epoch=state.best_epoch,
        best_metric=state.best_metric,
        epochs_run=state.epochs_done,
        stopped_early=stopped_early,
        history=list(state.history),
    )


def _snapshot(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: copy.deepcopy(v.detach()) for k, v in module.state_dict().items()}


class WeightAverage:
    """Exponential moving average of a module's state (Polyak averaging). On a small
    log the validation metric plateaus early and jitters from epoch to epoch; the average
    of the weights along that plateau generalises better than any single epoch's."""

    def __init__(self, module: nn.Module, decay: float) -> None:
        self.decay = decay
        # state_dict tensors share storage with the module and stay valid (optimizer steps
        # and load_state_dict write in place), so one lookup serves every step
        self._live = module.state_dict()
        self.weights = _snapshot(module)

    @torch.no_grad()
    def update(self) -> None:
        for key, value in self._live.items():
            kept = self.weights[key]
            if kept.is_floating_point():
                kept.lerp_(value, 1.0 - self.decay)
            else:
                kept.copy_(value)

    def snapshot(self) -> dict[str, torch.Tensor]:
        return {k: v.clone() for k, v in self.weights.items()}


@contextmanager
def _evaluated_as(module: nn.Module, average: WeightAverage | None) -> Iterator[None]:
    """Run the block with the averaged weights in `module`, then put the raw ones back."""
    if average is None:
        yield
        return
    raw = _snapshot(module)
    module.load_state_dict(average.weights)
    try:
        yield
    finally:
        module.load_state_dict(raw)


def _progress_bar(settings: LoopSettings, start: int) -> Any:
    if not settings.progress or settings.report is not None:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=settings.epochs, initial=start, desc="epochs", unit="epoch")
