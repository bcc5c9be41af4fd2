"""Training checkpoints on disk: tensors only (torch.save of state dicts, loaded back
with weights_only=True, so no pickled code is ever executed) plus a JSON progress file.

Layout of a checkpoint directory:
  last.pt       network weights after the latest epoch
  best.pt       network weights of the best validation epoch so far
  optimizer.pt  AdamW state after the latest epoch
  average.pt    the moving average of the weights (only when training keeps one)
  state.json    epochs done, best metric/epoch, epochs without improvement, history
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lmrec.errors import ArtifactError


@dataclass
class EpochRecord:
    epoch: int
    loss: float
    metric: float | None
    seconds: float
    #: CPU time of the process (all threads) in the epoch: a steadier cost figure than
    #: wall time on a shared machine
    cpu_seconds: float = 0.0


@dataclass
class CheckpointState:
    epochs_done: int = 0
    best_metric: float | None = None
    best_epoch: int = -1
    bad_epochs: int = 0
    history: list[EpochRecord] = field(default_factory=list)


def save_checkpoint(
    path: Path,
    module: nn.Module,
    optimizer: torch.optim.Optimizer,
    state: CheckpointState,
    best_weights: dict[str, torch.Tensor] | None,
    averaged: dict[str, torch.Tensor] | None = None,
) -> None:
    """Write the latest state; `best_weights` when this epoch is the new best."""
    path.mkdir(parents=True, exist_ok=True)
    _atomic_save(module.state_dict(), path / "last.pt")
    _atomic_save(optimizer.state_dict(), path / "optimizer.pt")
    if averaged is not None:
        _atomic_save(averaged, path / "average.pt")
    if best_weights is not None:
        _atomic_save(best_weights, path / "best.pt")
    payload = asdict(state)
    payload["history"] = [asdict(r) for r in state.history]
    tmp = path / "state.json.tmp"
    tmp.write_text(json.dumps(payload, indent=1))
    os.replace(tmp, path / "state.json")


def load_checkpoint(
    path: Path, module: nn.Module, optimizer: torch.optim.Optimizer, device: torch.device
) -> tuple[CheckpointState, dict[str, torch.Tensor] | None, dict[str, torch.Tensor] | None]:
    """Restore the latest weights and optimizer; return the progress, the best weights
    and the weight average (None where not kept)."""
    try:
        raw = json.loads((path / "state.json").read_text())
        module.load_state_dict(_load(path / "last.pt", device))
        optimizer.load_state_dict(_load(path / "optimizer.pt", device))
        best = _load(path / "best.pt", device) if (path / "best.pt").exists() else None
        averaged = _load(path / "average.pt", device) if (path / "average.pt").exists() else None
    except (OSError, ValueError, RuntimeError, KeyError) as exc:
        raise ArtifactError(
            f"cannot resume from checkpoint directory {path}: {exc}; delete it or train "
            "without resume"
        ) from None
    raw["history"] = [EpochRecord(**r) for r in raw.get("history", [])]
    return CheckpointState(**raw), best, averaged


def _atomic_save(obj: Any, target: Path) -> None:
    tmp = target.with_suffix(".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, target)


def _load(path: Path, device: torch.device) -> Any:
    return torch.load(path, map_location=device, weights_only=True)
