"""Where torch work runs: device choice and seeding (run options, never saved)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from lmrec.errors import ConfigError

DEVICE_ENV = "LMREC_DEVICE"


def resolve_device(option: str | None = None) -> torch.device:
    """The device to run on: the option if given, else $LMREC_DEVICE, else cuda when
    available, else cpu. "auto" means "choose by availability"."""
    source = "the device option" if option else f"${DEVICE_ENV}"
    wanted = (option or os.environ.get(DEVICE_ENV) or "auto").strip().lower()
    if wanted == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(wanted)
    except RuntimeError:
        raise ConfigError(
            f"unknown device '{wanted}': use 'cpu', 'cuda', 'cuda:N', 'mps' or 'auto' "
            f"(set by --device or ${DEVICE_ENV})"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device '{wanted}' (from {source}) was asked for but this torch build sees "
                f"no CUDA GPU (torch {torch.__version__}); use device='cpu' or 'auto', or "
                "install a CUDA build of torch"
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(
                f"device '{wanted}' does not exist: {torch.cuda.device_count()} CUDA "
                "device(s) are visible"
            )
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError("device 'mps' was asked for but is not available; use 'cpu'")
    return device


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA) and NumPy's legacy global generator."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)


def describe_device(device: torch.device) -> dict[str, Any]:
    """What a benchmark or log line should say about where a model ran."""
    info: dict[str, Any] = {"device": str(device), "threads": torch.get_num_threads()}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info
