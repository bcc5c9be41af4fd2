"""`lmrec distil`: a small student from a trained SASRec, on the teacher's data and split."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

Invoke = Callable[..., tuple[int, str]]

TEACHER = ["--set", "hidden=32", "--set", "n_layers=2", "--set", "epochs=3", "--threads", "1"]


def test_distil_evaluate(invoke: Invoke, ratings_dir: Path, tmp_path: Path) -> None:
    teacher = tmp_path / "teacher"
    code, text = invoke(
        "train", "sasrec", "--data", ratings_dir, "--protocol", "loo", *TEACHER,
        "--no-progress", "--out", teacher,
    )  # fmt: skip
    assert code == 0, text
    student = tmp_path / "student"
    code, text = invoke(
        "distil", teacher, "--student", "sasrec", "--set", "hidden=8", "--set", "n_layers=1",
        "--set", "epochs=3", "--threads", 1, "--no-progress", "--out", student,
    )  # fmt: skip
    assert code == 0, text
    assert "parameters" in text and "of the teacher's" in text
    meta = json.loads((student / "model.json").read_text())
    source = json.loads((teacher / "model.json").read_text())
    assert meta["config"]["teacher"] == str(teacher.resolve())
    assert meta["config"]["hidden"] == 8 and meta["distilled_from"] == str(teacher)
    for key in ("data", "protocol", "split_seed", "train_fingerprint"):
        assert meta[key] == source[key]
    assert (student / "holdout.parquet").exists()
    code, text = invoke("evaluate", student, "--json")
    assert code == 0, text
    assert 0.0 <= json.loads((student / "metrics.json").read_text())["ndcg@10"] <= 1.0


@pytest.mark.parametrize("case", ["all-data", "not-sequential"])
def test_teachers_that_cannot_teach(
    invoke: Invoke, ratings_dir: Path, tmp_path: Path, case: str
) -> None:
    teacher = tmp_path / "teacher"
    if case == "all-data":
        args = ["train", "sasrec", "--data", ratings_dir, "--protocol", "none", *TEACHER]
        message = "records no data split to distil on"
    else:
        args = ["train", "ease", "--data", ratings_dir, "--protocol", "loo"]
        message = "holds a 'ease' model; distil from a sequence model"
    assert invoke(*args, "--out", teacher)[0] == 0
    code, text = invoke("distil", teacher, "--student", "sasrec", "--out", tmp_path / "s")
    assert code == 2 and message in text and "Traceback" not in text
