"""Distillation: a sequence model learns from a teacher's soft targets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

from lmrec.data.dataset import from_frame
from lmrec.errors import ConfigError
from lmrec.models.registry import create_model
from lmrec.training.sequence_task import Teacher

from .sequence_toys import cycle_data, next_after

TEACHER = {"hidden": 16, "heads": 1, "n_layers": 1, "dropout": 0.0, "lr": 0.01, "threads": 1}


@pytest.fixture(scope="module")
def teacher_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("teacher") / "sasrec"
    create_model("sasrec", {**TEACHER, "epochs": 30}).fit(cycle_data()).save(out)
    return out


def _student(teacher_dir: Path, **extra: Any) -> Any:
    config = {**TEACHER, "hidden": 8, "epochs": 30, "teacher": str(teacher_dir), **extra}
    return create_model("sasrec", config)


def test_student_learns_from_soft_targets_alone(teacher_dir: Path) -> None:
    """distil_weight=1: the data's own targets carry no weight, yet the student learns
    the cycle, because the teacher's distribution says what comes next."""
    student = _student(teacher_dir, distil_weight=1.0).fit(cycle_data())
    assert next_after(student, ["i0", "i1", "i2"]) == "i3"
    assert next_after(student, ["i3", "i4"]) == "i5"
    assert student.config.teacher == str(teacher_dir)


def test_student_learns_from_the_teachers_top_items_alone(teacher_dir: Path) -> None:
    """distil_top=2: only the order of the teacher's two best items reaches the student
    (the cycle's next item and its runner-up), and that is enough to learn the cycle."""
    student = _student(teacher_dir, distil_weight=1.0, distil_top=2).fit(cycle_data())
    assert next_after(student, ["i0", "i1", "i2"]) == "i3"
    assert next_after(student, ["i3", "i4"]) == "i5"


def test_top_items_kl_matches_the_full_kl_when_it_covers_the_catalogue() -> None:
    """Over every item the top-N comparison is the plain KL; over fewer it compares the
    two distributions renormalised on the teacher's N best items, and nothing else."""
    torch.manual_seed(0)
    teacher_logits = torch.randn(5, 7)
    student_logits = torch.randn(5, 7, requires_grad=True)
    full = _blend(teacher_logits, student_logits, top=None)
    assert torch.allclose(_blend(teacher_logits, student_logits, top=7), full)
    top3 = _blend(teacher_logits, student_logits, top=3)
    best = teacher_logits.topk(3, dim=-1).indices
    soft = torch.softmax(teacher_logits.gather(1, best) / 2.0, dim=-1)
    log_student = torch.log_softmax(student_logits.gather(1, best) / 2.0, dim=-1)
    expected = (soft * (soft.log() - log_student)).sum(dim=1).mean() * 4.0
    assert torch.allclose(top3, expected, atol=1e-6)
    # the student's scores of items outside the teacher's top 3 get no gradient
    (grad,) = torch.autograd.grad(top3, student_logits)
    outside = torch.ones_like(grad, dtype=torch.bool).scatter_(1, best, False)
    assert torch.all(grad[outside] == 0)


def _blend(teacher_logits: torch.Tensor, student_logits: torch.Tensor, top: int | None) -> Any:
    """The distillation term alone (weight 1, temperature 2) for a teacher whose scores
    are `teacher_logits` at each of its positions."""

    class Items:
        repeat = None

        def all_items(self) -> torch.Tensor:
            return torch.eye(7)

    class Net:
        items = Items()

        def __call__(self, tokens: torch.Tensor) -> torch.Tensor:
            return teacher_logits[None]

    teacher = Teacher(Net(), weight=1.0, temperature=2.0, top=top)  # type: ignore[arg-type]
    where = torch.ones(1, 5, dtype=torch.bool)
    return teacher.blend(torch.tensor(0.0), student_logits, torch.ones(1, 5), where, None)


def test_a_teacher_that_knows_nothing_teaches_nothing(teacher_dir: Path) -> None:
    """The control for the test above: a teacher that knows nothing (one epoch at a tiny
    learning rate on shuffled orders) teaches the same student nothing, so what the
    student learnt there came from its teacher."""
    data = cycle_data()
    frame = data.to_frame()
    frame["timestamp"] = frame["timestamp"].sample(frac=1.0, random_state=0).to_numpy()
    noise_dir = teacher_dir.parent / "noise"
    create_model("sasrec", {**TEACHER, "epochs": 1, "lr": 1e-5}).fit(from_frame(frame)).save(
        noise_dir
    )
    student = _student(noise_dir, distil_weight=1.0).fit(data)
    hits = [
        next_after(student, [f"i{i}", f"i{(i + 1) % 6}"]) == f"i{(i + 2) % 6}" for i in range(6)
    ]
    assert sum(hits) < 6


def test_teacher_on_another_catalogue_is_refused(teacher_dir: Path) -> None:
    other = cycle_data(n_items=7)
    with pytest.raises(ConfigError, match="another catalogue"):
        _student(teacher_dir).fit(other)


def test_teacher_needs_full_softmax(teacher_dir: Path) -> None:
    with pytest.raises(ConfigError, match="teacher needs loss='ce'"):
        _student(teacher_dir, loss="sampled")


def test_teacher_must_be_a_sequence_model(tmp_path: Path) -> None:
    data = cycle_data()
    create_model("ease").fit(data).save(tmp_path / "ease")
    items = pd.DataFrame({"item_id": list(data.item_map.ids)})
    with pytest.raises(ConfigError, match="holds a 'ease' model; distil from a sequence"):
        _student(tmp_path / "ease").fit(from_frame(data.to_frame(), items=items))
