"""Distillation of a trained sequence model into a smaller one: the student trains on
the data and on the teacher's softened next-item distribution (see
lmrec.training.sequence_task.Teacher). `lmrec distil TEACHER_DIR --student sasrec` sets
`teacher` to the teacher's directory and trains on the teacher's data and split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from lmrec.core.options import FitOptions
from lmrec.errors import ConfigError
from lmrec.training.sequence_task import Teacher


def load_teacher(
    path: str | Path,
    item_ids: np.ndarray,
    device: torch.device,
    weight: float,
    temperature: float,
    sequence_class: type[Any],
    top: int | None = None,
) -> Teacher:
    """The network of the sequence model in `path`, frozen, on `device`; its catalogue
    must be the student's (the same item ids in the same order). `sequence_class` is the
    sequence models' base class (passed in: this module sits below it); `top`: compare
    over the teacher's best `top` items only (see Teacher)."""
    from lmrec.models.artifacts import load_model

    teacher: Any = load_model(path, FitOptions(device=str(device)))
    if not isinstance(teacher, sequence_class):
        raise ConfigError(
            f"teacher {path} holds a '{teacher.name}' model; distil from a sequence model "
            "(sasrec, gru4rec)"
        )
    assert teacher.item_map is not None
    if not np.array_equal(np.asarray(teacher.item_map.ids), np.asarray(item_ids)):
        raise ConfigError(
            f"teacher {path} was trained on another catalogue ({len(teacher.item_map)} items) "
            f"than the student's data ({len(item_ids)} items); distil on the teacher's data"
        )
    net = teacher._network().eval()
    for parameter in net.parameters():
        parameter.requires_grad_(False)
    return Teacher(net, weight, temperature, top)
