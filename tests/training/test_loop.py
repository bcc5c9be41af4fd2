"""The shared epoch loop: early stopping, best weights, checkpoints and resume."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from lmrec.errors import ArtifactError, ConfigError
from lmrec.training.loop import LoopSettings, run_training


class ScriptedTask:
    """Fits a 1-parameter model to a target; validation metrics follow a script so the
    early-stopping decisions are known in advance."""

    def __init__(self, net: nn.Linear, metrics: list[float | None]) -> None:
        self.net, self.metrics, self.calls = net, metrics, 0

    def batches(self, rng: np.random.Generator) -> Iterator[torch.Tensor]:
        for _ in range(3):
            yield torch.from_numpy(rng.normal(size=(8, 1)).astype(np.float32))

    def loss(self, batch: torch.Tensor) -> torch.Tensor:
        return ((self.net(batch) - 3 * batch) ** 2).mean()

    def validate(self) -> float | None:
        value = self.metrics[min(self.calls, len(self.metrics) - 1)]
        self.calls += 1
        return value


def make_net() -> nn.Linear:
    torch.manual_seed(0)
    return nn.Linear(1, 1)


def test_stops_after_patience_and_keeps_best_weights() -> None:
    net = make_net()
    weights: list[float] = []

    class Recording(ScriptedTask):
        def validate(self) -> float | None:
            weights.append(self.net.weight.item())
            return super().validate()

    task = Recording(net, [0.1, 0.3, 0.2, 0.25, 0.2, 0.9])
    result = run_training(net, task, LoopSettings(epochs=20, lr=0.05, patience=3))
    assert result.best_epoch == 1 and result.best_metric == pytest.approx(0.3)
    assert result.epochs_run == 5 and result.stopped_early  # epochs 2, 3, 4 not better
    assert net.weight.item() == pytest.approx(weights[1])  # best epoch's weights restored
    assert [r.epoch for r in result.history] == [0, 1, 2, 3, 4]
    assert all(r.loss > 0 and r.seconds >= 0 for r in result.history)


def test_without_validation_trains_all_epochs() -> None:
    net = make_net()
    result = run_training(net, ScriptedTask(net, [None]), LoopSettings(epochs=30, lr=0.05))
    assert result.epochs_run == 30 and not result.stopped_early
    assert net.weight.item() == pytest.approx(3.0, abs=0.05)  # learned y = 3x


def test_same_seed_same_weights() -> None:
    a, b = make_net(), make_net()
    run_training(a, ScriptedTask(a, [None]), LoopSettings(epochs=3, seed=5))
    run_training(b, ScriptedTask(b, [None]), LoopSettings(epochs=3, seed=5))
    assert torch.equal(a.weight, b.weight)


def test_resume_equals_uninterrupted(tmp_path: Path) -> None:
    script = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    straight = make_net()
    run_training(straight, ScriptedTask(straight, script), LoopSettings(epochs=6, lr=0.01))

    first = make_net()
    ckpt = tmp_path / "ckpt"
    settings = LoopSettings(epochs=3, lr=0.01, checkpoint_dir=ckpt)
    run_training(first, ScriptedTask(first, script), settings)
    assert {"last.pt", "best.pt", "optimizer.pt", "state.json"} <= {p.name for p in ckpt.iterdir()}
    resumed = make_net()
    task = ScriptedTask(resumed, script)
    task.calls = 3  # the metric script continues where it stopped
    settings = LoopSettings(epochs=6, lr=0.01, checkpoint_dir=ckpt, resume=True)
    result = run_training(resumed, task, settings)
    assert result.epochs_run == 6 and len(result.history) == 6
    assert torch.equal(resumed.weight, straight.weight)
    assert torch.equal(resumed.bias, straight.bias)


def test_weight_average_is_validated_and_kept() -> None:
    raw, averaged = make_net(), make_net()
    run_training(raw, ScriptedTask(raw, [None]), LoopSettings(epochs=4, lr=0.05))
    seen: list[float] = []

    class Recording(ScriptedTask):
        def validate(self) -> float | None:
            seen.append(self.net.weight.item())
            return super().validate()

    settings = LoopSettings(epochs=4, lr=0.05, ema_decay=0.9)
    run_training(averaged, Recording(averaged, [0.1, 0.2, 0.3, 0.4]), settings)
    start = make_net().weight.item()
    # the raw weights move from the start towards 3; the average trails behind them
    assert start < averaged.weight.item() < raw.weight.item()
    assert seen[-1] == pytest.approx(averaged.weight.item())  # validation saw the average
    assert seen == sorted(seen)


def test_resume_keeps_the_weight_average(tmp_path: Path) -> None:
    script = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    straight = make_net()
    settings = LoopSettings(epochs=6, lr=0.01, ema_decay=0.8)
    run_training(straight, ScriptedTask(straight, script), settings)
    first, ckpt = make_net(), tmp_path / "ckpt"
    settings = LoopSettings(epochs=3, lr=0.01, ema_decay=0.8, checkpoint_dir=ckpt)
    run_training(first, ScriptedTask(first, script), settings)
    assert (ckpt / "average.pt").exists()
    resumed = make_net()
    task = ScriptedTask(resumed, script)
    task.calls = 3
    settings = LoopSettings(epochs=6, lr=0.01, ema_decay=0.8, checkpoint_dir=ckpt, resume=True)
    run_training(resumed, task, settings)
    assert torch.equal(resumed.weight, straight.weight)


def test_resume_from_a_mismatched_checkpoint_is_a_clear_error(tmp_path: Path) -> None:
    net = make_net()
    ckpt = tmp_path / "ckpt"
    run_training(net, ScriptedTask(net, [None]), LoopSettings(epochs=1, checkpoint_dir=ckpt))
    other = nn.Linear(2, 1)
    with pytest.raises(ArtifactError, match="cannot resume"):
        run_training(
            other,
            ScriptedTask(other, [None]),  # type: ignore[arg-type]
            LoopSettings(epochs=2, checkpoint_dir=ckpt, resume=True),
        )


def test_settings_are_checked() -> None:
    with pytest.raises(ConfigError, match="ema_decay"):
        LoopSettings(epochs=1, ema_decay=1.0)
    with pytest.raises(ConfigError, match="epochs"):
        LoopSettings(epochs=0)
    with pytest.raises(ConfigError, match="patience"):
        LoopSettings(epochs=1, patience=0)


def test_progress_bar_shows_loss_and_metric(capsys: pytest.CaptureFixture[str]) -> None:
    net = make_net()
    run_training(net, ScriptedTask(net, [0.5]), LoopSettings(epochs=2, progress=True))
    err = capsys.readouterr().err
    assert "loss=" in err and "ndcg@10=0.5000" in err
