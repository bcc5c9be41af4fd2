"""`lmrec train`, `evaluate` and `recommend` as a user runs them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

Invoke = Callable[..., tuple[int, str]]


def test_train_evaluate_recommend_round_trip(invoke: Invoke, ratings_dir: Path, tmp_path: Path):
    out = tmp_path / "ease-model"
    code, text = invoke("train", "ease", "--data", ratings_dir, "--set", "reg=50", "--out", out)
    assert code == 0, text
    meta = json.loads((out / "model.json").read_text())
    assert meta["model"] == "ease" and meta["config"]["reg"] == 50
    assert meta["protocol"] == "ratio" and meta["train_fingerprint"]

    code, text = invoke("evaluate", out, "--json")
    assert code == 0, text
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 < metrics["ndcg@10"] <= 1.0
    assert set(metrics) >= {"precision@10", "recall@10", "mrr@10", "hit@10"}

    code, text = invoke("recommend", out, "--user", "0", "-k", "5", "--json")
    assert code == 0, text
    recs = json.loads(text)
    assert len(recs) == 5
    assert all("title" in r for r in recs)
    scores = [r["score"] for r in recs]
    assert scores == sorted(scores, reverse=True)


def test_recommend_for_a_new_history(invoke: Invoke, ratings_dir: Path, tmp_path: Path):
    out = tmp_path / "knn"
    assert invoke("train", "itemknn", "--data", ratings_dir, "--out", out)[0] == 0
    code, text = invoke("recommend", out, "--history", "1,2,3", "-k", "4", "--json")
    assert code == 0, text
    ids = [r["item_id"] for r in json.loads(text)]
    assert len(ids) == 4 and not {"1", "2", "3"} & set(ids)


def test_config_file_and_unknown_key(invoke: Invoke, ratings_dir: Path, tmp_path: Path):
    good = tmp_path / "ease.toml"
    good.write_text("[model]\nreg = 75.0\n")
    out = tmp_path / "m"
    code, text = invoke("train", "ease", "--data", ratings_dir, "--config", good, "--out", out)
    assert code == 0, text
    assert json.loads((out / "model.json").read_text())["config"]["reg"] == 75.0

    bad = tmp_path / "bad.toml"
    bad.write_text("regularisation = 75.0\n")
    code, text = invoke("train", "ease", "--data", ratings_dir, "--config", bad, "--out", out)
    assert code == 2
    assert "unknown key 'regularisation'" in text
    assert "Traceback" not in text


def test_user_errors_are_one_line(invoke: Invoke, ratings_dir: Path, tmp_path: Path):
    code, text = invoke("train", "nosuchmodel", "--data", ratings_dir, "--out", tmp_path / "x")
    assert code == 2 and "unknown model 'nosuchmodel'" in text

    code, text = invoke(
        "train", "ease", "--data", ratings_dir, "--set", "reg=abc", "--out", tmp_path / "x"
    )
    assert code == 2 and "'reg'" in text

    code, text = invoke("recommend", tmp_path / "missing-dir", "--user", "1")
    assert code == 2 and "not a model directory" in text

    out = tmp_path / "pop"
    assert invoke("train", "pop", "--data", ratings_dir, "--out", out)[0] == 0
    code, text = invoke("recommend", out, "--user", "no-such-user")
    assert code == 2 and "unknown user id 'no-such-user'" in text
    assert "Traceback" not in text


def test_model_trained_on_all_data_cannot_be_evaluated(
    invoke: Invoke, ratings_dir: Path, tmp_path: Path
):
    out = tmp_path / "full"
    assert invoke("train", "pop", "--data", ratings_dir, "--protocol", "none", "--out", out)[0] == 0
    code, text = invoke("evaluate", out)
    assert code == 2 and "would leak" in text


def test_train_and_recommend_with_a_rerank_pipeline(
    invoke: Invoke, ratings_dir: Path, tmp_path: Path
):
    out = tmp_path / "rerank"
    code, text = invoke(
        "train",
        "rerank",
        "--data",
        ratings_dir,
        "--set",
        "retriever=ease",
        "--set",
        "ranker=ctr",
        "--set",
        "candidates=30",
        "--set",
        "epochs=2",
        "--threads",
        "1",
        "--out",
        out,
    )
    assert code == 0, text
    assert (out / "retriever" / "model.json").exists()
    code, text = invoke("recommend", out, "--user", "0", "-k", "5", "--json")
    assert code == 0, text
    scores = [r["score"] for r in json.loads(text)]
    assert len(scores) == 5 and scores == sorted(scores, reverse=True)
    code, text = invoke("evaluate", out, "--json")
    assert code == 0, text
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["auc"] <= 1.0 and metrics["logloss"] > 0


def test_userknn_beyond_its_user_limit_is_a_clear_error(
    invoke: Invoke, ratings_dir: Path, tmp_path: Path
):
    out = tmp_path / "uknn"
    # the ratings data has 80 users; a limit of 50 stands in for the default 100,000
    code, text = invoke(
        "train", "userknn", "--data", ratings_dir, "--set", "max_users=50", "--out", out
    )
    assert code == 2
    assert "above max_users (50)" in text and "itemknn" in text
    assert not out.exists()
    code, text = invoke("train", "userknn", "--data", ratings_dir, "--out", out)
    assert code == 0, text
