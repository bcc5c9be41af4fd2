"""Data-parallel replicas in the epoch loop, two real processes joined by torch.distributed
(gloo, as Ray Train sets it up on CPUs): gradients averaged, early stopping and
checkpoints decided by the first replica, the weights one process would get."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn

from lmrec.training.loop import LoopSettings, run_training
from lmrec.training.replicas import Replicas

#: validation NDCG@10 the first replica reports each epoch: epoch 1 is best, then three
#: worse epochs stop training with patience 3
SCRIPT = [0.2, 0.5, 0.4, 0.3, 0.45, 0.9, 0.9]
BATCHES = 6  # per epoch, before sharding


def make_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))


def rows(rng: np.random.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Equal-size batches of a regression problem, drawn from the epoch's generator."""
    for _ in range(BATCHES):
        x = rng.normal(size=(8, 3)).astype(np.float32)
        y = (x @ np.array([[1.0], [-2.0], [0.5]], dtype=np.float32)).astype(np.float32)
        yield torch.from_numpy(x), torch.from_numpy(y)


class RegressionTask:
    def __init__(self, net: nn.Module, merge: int = 1, validates: bool = True) -> None:
        self.net, self.merge, self.validates, self.epoch = net, merge, validates, 0

    def batches(self, rng: np.random.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        # merge=2: one process takes each pair of batches as one (what two replicas share)
        group: list[tuple[torch.Tensor, torch.Tensor]] = []
        for batch in rows(rng):
            group.append(batch)
            if len(group) == self.merge:
                yield torch.cat([b[0] for b in group]), torch.cat([b[1] for b in group])
                group = []

    def loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        return ((self.net(x) - y) ** 2).mean()

    def validate(self) -> float | None:
        if not self.validates:
            raise AssertionError("only the first replica validates")
        value = SCRIPT[self.epoch]
        self.epoch += 1
        return value


def settings(checkpoint_dir: Path | None, replicas: Replicas | None) -> LoopSettings:
    return LoopSettings(
        epochs=len(SCRIPT), lr=0.05, patience=3, checkpoint_dir=checkpoint_dir, replicas=replicas
    )


def replica(rank: int, world: int, store: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=world)
    try:
        torch.set_num_threads(1)
        net = make_net()
        if rank == 1:  # a replica that starts elsewhere is brought to the first one's weights
            with torch.no_grad():
                for p in net.parameters():
                    p.add_(1.0)
        replicas = Replicas.from_process_group(torch.device("cpu"))
        task = RegressionTask(net, validates=replicas.primary)
        result = run_training(net, task, settings(Path(out) / f"ckpt{rank}", replicas))
        torch.save(net.state_dict(), Path(out) / f"weights{rank}.pt")
        summary = {
            "epochs_run": result.epochs_run,
            "best_epoch": result.best_epoch,
            "stopped_early": result.stopped_early,
            "metrics": [r.metric for r in result.history],
        }
        (Path(out) / f"result{rank}.json").write_text(json.dumps(summary))
        # both finish their work before either tears the group down: a replica that
        # destroys its gloo group while the other still talks to it can abort in gloo's
        # threads ("terminate called without an active exception")
        dist.barrier()
    finally:
        dist.destroy_process_group()


def test_two_replicas_train_as_one_process_on_their_joint_batches(tmp_path: Path) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    mp.spawn(replica, args=(2, str(tmp_path / "store"), str(tmp_path)), nprocs=2, join=True)

    results = [json.loads((tmp_path / f"result{r}.json").read_text()) for r in (0, 1)]
    # both stop together, on the first replica's metrics: best epoch 1, then 3 worse
    assert results[0] == results[1]
    assert results[0]["epochs_run"] == 5 and results[0]["stopped_early"]
    assert results[0]["best_epoch"] == 1 and results[0]["metrics"] == SCRIPT[:5]
    # only the first replica writes checkpoints
    state = json.loads((tmp_path / "ckpt0" / "state.json").read_text())
    assert state["epochs_done"] == 5 and state["best_epoch"] == 1
    assert not (tmp_path / "ckpt1").exists()

    weights = [torch.load(tmp_path / f"weights{r}.pt", weights_only=True) for r in (0, 1)]
    for key in weights[0]:
        assert torch.equal(weights[0][key], weights[1][key])
    # averaged gradients of two equal batches are the gradient of the pair as one batch
    net = make_net()
    run_training(net, RegressionTask(net, merge=2), settings(None, None))
    for key, value in net.state_dict().items():
        torch.testing.assert_close(weights[0][key], value, rtol=1e-5, atol=1e-6)
    untrained = make_net().state_dict()
    assert any(not torch.equal(untrained[k], v) for k, v in net.state_dict().items())
