"""`lmrec compare` writes the table, JSON, CSV, Markdown and chart a user asked for."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from lmrec.data import load_dataset
from lmrec.data.splitters import random_split

Invoke = Callable[..., tuple[int, str]]


def test_compare_writes_every_output(invoke: Invoke, ratings_dir: Path, tmp_path: Path):
    out_dir, json_path = tmp_path / "report", tmp_path / "results.json"
    code, text = invoke(
        "compare",
        "--data",
        ratings_dir,
        "--models",
        "random,pop,ease",
        "--protocol",
        "ratio",
        "--json",
        json_path,
        "--out-dir",
        out_dir,
    )
    assert code == 0, text
    rows = json.loads(json_path.read_text())
    assert [r["model"] for r in rows] == ["random", "pop", "ease"]
    for row in rows:
        assert row["protocol"] == "ratio"
        assert set(row["metrics"]) >= {"ndcg@10", "recall@10", "precision@10", "mrr@10", "hit@10"}
        assert row["fit_seconds"] >= 0
    by_model = {r["model"]: r["metrics"]["ndcg@10"] for r in rows}
    assert by_model["ease"] > by_model["random"]
    # EASE's grid was searched on validation: every trial is recorded, and the best
    # trial's model is the one tested (its fit is not repeated)
    trials = rows[2]["tuning_trials"]
    assert len(trials) > 1
    best = max(trials, key=lambda t: t["ndcg@10"])
    assert rows[2]["config"]["reg"] == best["reg"]
    assert abs(rows[2]["fit_seconds"] - best["fit_seconds"]) < 1e-3
    assert "ease: testing the best tuned model" in text
    assert (out_dir / "chart.png").read_bytes()[:4] == b"\x89PNG"
    csv = pd.read_csv(out_dir / "results.csv")
    assert list(csv["model"]) == ["random", "pop", "ease"]
    report = (out_dir / "report.md").read_text()
    assert "| ease |" in report and "bootstrap" in report and "Paired test" in report


def test_compare_on_split_files_matches_that_split(
    invoke: Invoke, ratings_dir: Path, tmp_path: Path
):
    split = random_split(load_dataset(ratings_dir), seed=5)
    paths = []
    for part in ("train", "valid", "test"):
        path = tmp_path / f"{part}.csv"
        frame = getattr(split, part).to_frame().rename(columns={"value": "rating"})
        frame["extra"] = "ignored"
        frame.to_csv(path, index=False)
        paths.append(str(path))
    json_path = tmp_path / "r.json"
    code, text = invoke(
        "compare",
        "--data",
        ratings_dir,
        "--models",
        "pop",
        "--split-files",
        ",".join(paths),
        "--json",
        json_path,
        "--out-dir",
        tmp_path / "rep",
    )
    assert code == 0, text
    assert f"test {len(split.test):,}" in text
    assert json.loads(json_path.read_text())[0]["protocol"] == "files"


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--models", "pop,nope", "unknown model 'nope'"),
        ("--protocol", "weekly", "unknown protocol 'weekly'"),
        ("--split-files", "a.csv", "three comma-separated paths"),
        ("--models", "a=pop,a=ease", "label 'a' appears twice"),
        ("--models", "a=,pop", "LABEL=NAME"),
    ],
)
def test_compare_rejects_bad_options(
    invoke: Invoke, ratings_dir: Path, tmp_path: Path, option: str, value: str, message: str
):
    code, text = invoke("compare", "--data", ratings_dir, option, value, "--out-dir", tmp_path)
    assert code == 2 and message in text


def test_compare_runs_labelled_variants_of_one_model(
    invoke: Invoke, ratings_dir: Path, tmp_path: Path
):
    """LABEL=NAME runs one model under several configurations; --set by model name reaches
    every variant, --set by label only its own; the report tests the best against each."""
    out_dir, json_path = tmp_path / "report", tmp_path / "results.json"
    code, text = invoke(
        "compare",
        "--data", ratings_dir,
        "--models", "tight=ease,loose=ease,pop",
        "--set", "ease.reg=5",
        "--set", "loose.reg=5000",
        "--no-tune",
        "--json", json_path,
        "--out-dir", out_dir,
    )  # fmt: skip
    assert code == 0, text
    # not a terminal: progress comes as timestamped lines a log file keeps
    assert "compare: loose: fitting on train and testing" in text
    rows = {r["model"]: r for r in json.loads(json_path.read_text())}
    assert list(rows) == ["tight", "loose", "pop"]
    assert rows["tight"]["family"] == rows["loose"]["family"] == "ease"
    assert rows["tight"]["config"]["reg"] == 5 and rows["loose"]["config"]["reg"] == 5000
    assert rows["tight"]["metrics"] != rows["loose"]["metrics"]
    tests = pd.read_csv(out_dir / "paired_tests.csv")
    assert len(tests) == 2 and tests["best"].nunique() == 1
    assert set(tests["other"]) | set(tests["best"]) == {"tight", "loose", "pop"}
    assert (tests["mean_diff"] >= 0).all()  # best minus each other model
    report = (out_dir / "report.md").read_text()
    assert "minus each other model" in report and "| tight |" in report


def test_compare_reports_the_cut_offs_and_metrics_asked_for(
    invoke: Invoke, ratings_dir: Path, tmp_path: Path
):
    json_path = tmp_path / "r.json"
    code, text = invoke(
        "compare", "--data", ratings_dir, "--models", "pop,itemknn", "--no-tune",
        "-k", "5", "-k", "20", "--metrics", "ndcg,recall", "--json", json_path,
        "--out-dir", tmp_path / "report",
    )  # fmt: skip
    assert code == 0, text
    for row in json.loads(json_path.read_text()):
        assert set(row["metrics"]) == {"ndcg@5", "ndcg@20", "recall@5", "recall@20"}
    csv = pd.read_csv(tmp_path / "report" / "results.csv")
    assert {"ndcg@5", "recall@20"} <= set(csv.columns) and "precision@10" not in csv
    report = (tmp_path / "report" / "report.md").read_text()
    assert "ndcg@5 with 95% bootstrap interval" in report
    code, text = invoke("compare", "--data", ratings_dir, "--metrics", "ndgc", "--out-dir", "x")
    assert code == 2 and "unknown metric 'ndgc'" in text


def test_a_grid_given_with_set_is_tuned_over_on_validation(
    invoke: Invoke, ratings_dir: Path, tmp_path: Path
):
    json_path, out_dir = tmp_path / "r.json", tmp_path / "report"
    code, text = invoke(
        "compare", "--data", ratings_dir, "--models", "ease", "--set", "ease.reg=[10,1000]",
        "--json", json_path, "--out-dir", out_dir,
    )  # fmt: skip
    assert code == 0, text
    (row,) = json.loads(json_path.read_text())
    assert sorted(t["reg"] for t in row["tuning_trials"]) == [10, 1000]
    assert row["tuned_over"] == {"reg": [10, 1000]} and row["config"]["reg"] in (10, 1000)
    report = (out_dir / "report.md").read_text()
    assert f"- ease: reg={row['config']['reg']:g} (tuned over 10, 1000)" in report

    code, text = invoke(
        "compare", "--data", ratings_dir, "--models", "ease", "--set", "ease.reg=[10,1000]",
        "--no-tune", "--out-dir", out_dir,
    )  # fmt: skip
    assert code == 2 and "ease.reg is a list of values to tune over" in text


def test_report_says_which_settings_set_fixed(invoke: Invoke, ratings_dir: Path, tmp_path: Path):
    out_dir = tmp_path / "report"
    code, text = invoke(
        "compare", "--data", ratings_dir, "--models", "ease,pop", "--set", "ease.reg=500",
        "--out-dir", out_dir,
    )  # fmt: skip
    assert code == 0, text
    report = (out_dir / "report.md").read_text()
    assert "- ease: reg=500 (fixed by --set)" in report
    assert "- pop: defaults" in report
    assert "default hyper-parameters" not in report
    code, text = invoke(
        "compare", "--data", ratings_dir, "--models", "ease", "--set", "ease.reg=500",
        "--no-tune", "--out-dir", out_dir,
    )  # fmt: skip
    assert code == 0, text
    report = (out_dir / "report.md").read_text()
    assert "default hyper-parameters except those fixed with --set" in report
    assert "- ease: reg=500 (fixed by --set)" in report


def test_each_run_writes_a_new_report_directory(
    invoke: Invoke, ratings_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        code, text = invoke("compare", "--data", ratings_dir, "--models", "pop", "--no-tune")
        assert code == 0, text
    runs = sorted((tmp_path / "reports" / "compare").iterdir())
    assert len(runs) == 2
    assert all((run / "report.md").exists() for run in runs)


def test_compare_reranked_variants_and_beyond_accuracy_chart(
    invoke: Invoke, ratings_dir: Path, tmp_path: Path, minilm: object
):
    out_dir = tmp_path / "report"
    code, text = invoke(
        "compare", "--data", ratings_dir, "--models", "ease", "--no-tune",
        "--rerank", "mmr:0.2,calibrated:0.9", "--out-dir", out_dir,
    )  # fmt: skip
    assert code == 0, text
    rows = json.loads((out_dir / "results.json").read_text())
    assert [(r["model"], r["variant"]) for r in rows] == [
        ("ease", "train"), ("ease", "mmr:0.2"), ("ease", "calibrated:0.9")
    ]  # fmt: skip
    plain, mmr, calibrated = (r["metrics"] for r in rows)
    for metrics in (plain, mmr, calibrated):
        assert {"diversity@10", "longtail@10", "serendipity@10", "gini@10"} <= set(metrics)
    assert mmr["diversity@10"] > plain["diversity@10"]  # the point of MMR
    assert plain["ndcg@10"] >= calibrated["ndcg@10"]  # calibration costs some accuracy
    assert (out_dir / "beyond.png").read_bytes()[:4] == b"\x89PNG"
    assert "ease (mmr:0.2)" in (out_dir / "report.md").read_text()


def test_compare_rerank_errors_name_the_fix(invoke: Invoke, ratings_dir: Path, tmp_path: Path):
    code, text = invoke("compare", "--data", ratings_dir, "--models", "pop", "--rerank", "dpp:1")
    assert code == 2 and "mmr:LAMBDA or calibrated:LAMBDA" in text


def test_compare_runs_a_rerank_pipeline_with_click_metrics(
    invoke: Invoke, ratings_dir: Path, tmp_path: Path
):
    json_path = tmp_path / "results.json"
    code, text = invoke(
        "compare",
        "--data",
        ratings_dir,
        "--models",
        "ease,rerank",
        "--no-tune",
        "--set",
        "rerank.retriever=ease",
        "--set",
        "rerank.ranker=ctr",
        "--set",
        "rerank.candidates=30",
        "--set",
        "rerank.epochs=3",
        "--threads",
        "1",
        "--no-diversity",
        "--json",
        json_path,
        "--out-dir",
        tmp_path / "report",
    )
    assert code == 0, text
    rows = {r["model"]: r for r in json.loads(json_path.read_text())}
    assert rows["rerank"]["config"]["retriever"] == "ease"
    metrics = rows["rerank"]["metrics"]
    assert 0.0 < metrics["ndcg@10"] <= 1.0
    # the click model's metrics are reported beside the ranking ones; EASE has none
    assert 0.0 <= metrics["auc"] <= 1.0 and metrics["logloss"] > 0 and 0 <= metrics["ece"] <= 1
    assert "auc" not in rows["ease"]["metrics"]
