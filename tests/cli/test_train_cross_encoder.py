"""`lmrec train rerank --set ranker=cross-encoder`: trains, saves the cross-encoder inside
the model directory, loads it back to recommend (click scores: tests/models)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

Invoke = Callable[..., tuple[int, str]]


def test_train_and_recommend_with_a_cross_encoder_ranker(
    invoke: Invoke, ratings_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "cross"
    settings = {
        "retriever": "ease",
        "ranker": "cross-encoder",
        "candidates": 5,
        "cross_pairs": 32,
        "cross_history": 3,
        "cross_max_tokens": 32,
        "cross_batch_size": 16,
        "cross_epochs": 1,
    }
    sets = [arg for key, value in settings.items() for arg in ("--set", f"{key}={value}")]
    code, text = invoke(
        "train", "rerank", "--data", ratings_dir, *sets, "--threads", "1", "--out", out
    )
    assert code == 0, text
    assert (out / "cross-encoder" / "model.safetensors").exists()
    code, text = invoke("recommend", out, "--user", "0", "-k", "5", "--json")
    assert code == 0, text
    scores = [r["score"] for r in json.loads(text)]
    assert len(scores) == 5 and scores == sorted(scores, reverse=True)


def test_a_bad_cross_encoder_option_names_the_field(
    invoke: Invoke, ratings_dir: Path, tmp_path: Path
) -> None:
    code, text = invoke(
        "train", "rerank", "--data", ratings_dir, "--set", "ranker=cross-encoder",
        "--set", "cross_max_tokens=2", "--out", tmp_path / "bad",
    )  # fmt: skip
    assert code == 2 and "cross_max_tokens" in text
