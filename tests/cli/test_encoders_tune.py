"""`lmrec encoders tune` as a user runs it: pairs from the training part, a saved
sentence-transformers directory that text options accept, with its own cache identity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.cli.film_catalogue import FILMS, lmrec, write_catalogue

from lmrec.data import load_dataset
from lmrec.encoders import EncoderConfig, TextEncoder, get_encoder
from lmrec.encoders.tuning import TUNING_FILE, behaviour_pairs

QUICK = ["--pairs", "200", "--batch-size", "8", "--max-length", "16", "--threads", "1"]


def _taste_separation(encoder: TextEncoder) -> float:
    """Mean cosine within a taste minus mean cosine across tastes, over the film texts as
    the models render them ("Title. Genres: ...")."""
    texts, tastes = [], []
    for taste, films in FILMS.items():
        for _, title, genres in films:
            texts.append(f"{title}. {genres.replace('|', ', ')}.")
            tastes.append(taste)
    vectors = encoder.encode(texts)
    sims = vectors @ vectors.T
    same = np.equal.outer(tastes, tastes)
    off_diagonal = ~np.eye(len(texts), dtype=bool)
    return float(sims[same & off_diagonal].mean() - sims[~same].mean())


def test_pairs_follow_each_users_time_order(tmp_path: Path) -> None:
    log = pd.DataFrame(
        {
            "user_id": ["u", "u", "u", "v", "v"],
            "item_id": ["c", "a", "b", "a", "c"],
            "timestamp": [30, 10, 20, 5, 6],
        }
    )
    log.to_csv(tmp_path / "log.csv", index=False)
    items = pd.DataFrame({"item_id": ["a", "b", "c"], "title": ["Alpha", "Beta", "Gamma"]})
    items.to_csv(tmp_path / "items.csv", index=False)
    ds = load_dataset(tmp_path / "log.csv", items=tmp_path / "items.csv")
    texts = [ds.items.loc[i, "title"] + "." for i in range(ds.n_items)]
    anchors, positives = behaviour_pairs(ds, texts, limit=100, history=3, seed=0)
    pairs = set(zip(anchors, positives, strict=True))
    # u: a -> b -> c (by time, not file order); v: a -> c
    assert pairs == {
        ("Alpha.", "Beta."),
        ("Beta.", "Gamma."),
        ("Alpha.; Beta.", "Gamma."),
        ("Alpha.", "Gamma."),
    }
    few, _ = behaviour_pairs(ds, texts, limit=2, history=3, seed=0)
    assert len(few) == 2


def test_tuned_encoder_is_a_text_model_the_others_accept(
    minilm: TextEncoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LMREC_CACHE_DIR", str(tmp_path / "cache"))
    data = write_catalogue(tmp_path / "films")
    out = tmp_path / "tuned"
    code, text = lmrec(
        "encoders", "tune", "--data", data, "--protocol", "none", "--out", out,
        "--epochs", "3", "--layers", "2", "--learning-rate", "1e-4", *QUICK,
    )  # fmt: skip
    assert code == 0, text
    assert "saved to" in text and "text.encoder.model=" in text
    record = json.loads((out / TUNING_FILE).read_text())
    assert record["pairs"] > 50
    assert 0 < record["trained_parameters"] < record["total_parameters"]

    tuned = get_encoder(EncoderConfig(model=str(out)))
    assert tuned.identity != minilm.identity  # cached embeddings are never mixed up
    # The pairs say which films go together; the tuned encoder has learned it.
    assert _taste_separation(tuned) > _taste_separation(minilm) + 0.02

    code, text = lmrec(
        "train", "content", "--data", data, "--protocol", "none", "--out", tmp_path / "content",
        "--set", f"encoder.model={out}",
    )  # fmt: skip
    assert code == 0, text
    code, text = lmrec("recommend", tmp_path / "content", "--history", "toy,lion", "-k", "3")
    assert code == 0, text
    assert "nemo" in text or "shrek" in text or "aladdin" in text


def test_bad_options_are_one_line(tmp_path: Path) -> None:
    data = write_catalogue(tmp_path / "films")
    code, text = lmrec("encoders", "tune", "--data", data, "--out", tmp_path / "x", "--layers", "x")
    assert code == 2
    assert "--layers takes a number or 'all'" in text
    log_only = tmp_path / "log_only"
    log_only.mkdir()
    (log_only / "interactions.csv").write_text((data / "interactions.csv").read_text())
    code, text = lmrec(
        "encoders", "tune", "--data", log_only / "interactions.csv", "--protocol", "none",
        "--out", tmp_path / "y", *QUICK,
    )  # fmt: skip
    assert code == 2
    assert "needs item text" in text
