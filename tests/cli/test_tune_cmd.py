"""`lmrec tune`: a search on validation that resumes from its study file, writes a TOML
`lmrec train --config` takes, and prunes torch models through their epoch reports."""

from __future__ import annotations

import json
import sqlite3
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from lmrec.core.options import FitOptions
from lmrec.data.splitters import random_split
from lmrec.data.synthetic import generate
from lmrec.models.registry import create_model

Invoke = Callable[..., tuple[int, str]]


def _trials(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM trials").fetchone()[0]


def test_tune_resumes_and_writes_a_config_train_accepts(
    invoke: Invoke, ratings_dir: Path, tmp_path: Path
) -> None:
    study, out = tmp_path / "ease.db", tmp_path / "ease.toml"
    args = ("tune", "ease", "--data", ratings_dir, "--study", study, "--out", out)
    code, text = invoke(*args, "--trials", "3")
    assert code == 0, text
    assert "trial 3/3 complete" in text and "test (once): ndcg@10" in text
    assert _trials(study) == 3
    config = tomllib.loads(out.read_text())["model"]
    assert config["name"] == "ease" and 1.0 <= config["reg"] <= 5000.0

    code, text = invoke(*args, "--trials", "2", "--no-test")
    assert code == 0, text
    assert "resuming study" in text and _trials(study) == 5
    config = tomllib.loads(out.read_text())["model"]  # the best of all five

    model_dir = tmp_path / "model"
    code, text = invoke("train", "ease", "--data", ratings_dir, "--config", out, "--out", model_dir)
    assert code == 0, text
    saved = json.loads((model_dir / "model.json").read_text())
    assert saved["config"]["reg"] == pytest.approx(config["reg"])  # what was tuned is trained


def test_tune_refuses_a_model_without_a_search_space(invoke: Invoke, ratings_dir: Path) -> None:
    code, text = invoke("tune", "pop", "--data", ratings_dir, "--trials", "1")
    assert code == 2 and "declares no search space" in text


def test_an_epoch_hook_stops_a_torch_model() -> None:
    data = generate(n_users=40, n_items=30, n_interactions=600, seed=1)
    split = random_split(data, seed=0)
    seen: list[int] = []

    class Stop(Exception):
        pass

    def hook(epoch: int, metric: float | None) -> None:
        seen.append(epoch)
        if epoch == 1:
            raise Stop

    model = create_model("sasrec", {"epochs": 5, "hidden": 16, "max_len": 10})
    with pytest.raises(Stop):
        model.fit(split.train, split.valid, FitOptions(threads=1, on_epoch=hook))
    assert seen == [0, 1]
