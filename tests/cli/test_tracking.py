"""Experiment tracking: `lmrec train`, `compare` and `tune` with --track / --tracking-uri /
$LMREC_TRACKING_URI log to MLflow, and the runs read back through MLflow's own client."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import mlflow  # the track extra, in the Makefile's EXTRAS: CI runs these tests
import pytest

Invoke = Callable[..., tuple[int, str]]
TINY_SASREC = ("--set", "hidden=16", "--set", "max_len=10", "--threads", "1")


def _client(uri: str) -> Any:
    return mlflow.MlflowClient(tracking_uri=uri)


def _runs(uri: str, experiment: str = "lmrec") -> list[Any]:
    client = _client(uri)
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment!r} in {uri}"
    return list(client.search_runs([found.experiment_id], order_by=["attributes.start_time"]))


def _artifacts(uri: str, run_id: str, path: str | None = None) -> set[str]:
    return {f.path for f in _client(uri).list_artifacts(run_id, path)}


def _children(runs: list[Any], parent: Any) -> list[Any]:
    return [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id]


def test_train_logs_settings_epochs_curve_and_model(
    invoke: Invoke, ratings_dir: Path, tmp_path: Path
) -> None:
    uri = f"sqlite:///{tmp_path / 'track.db'}"
    out = tmp_path / "model"
    code, text = invoke(
        "train", "sasrec", "--data", ratings_dir, "--out", out, "--set", "epochs=3",
        *TINY_SASREC, "--tracking-uri", uri, "--experiment", "films",
    )  # fmt: skip
    assert code == 0, text
    assert "tracked: MLflow run" in text
    (run,) = _runs(uri, "films")
    assert run.info.status == "FINISHED" and run.info.run_name == "train sasrec"
    params = run.data.params
    assert params["model"] == "sasrec" and params["hidden"] == "16" and params["epochs"] == "3"
    assert params["run.protocol"] == "ratio" and params["text.template"]  # nested: dotted
    client = _client(uri)
    curve = client.get_metric_history(run.info.run_id, "valid_ndcg_at_10")
    assert sorted(m.step for m in curve) == [1, 2, 3]
    assert all(0.0 <= m.value <= 1.0 for m in curve)
    assert len(client.get_metric_history(run.info.run_id, "loss")) == 3
    assert run.data.metrics["fit_seconds"] > 0
    assert {"training_curve.png", "model"} <= _artifacts(uri, run.info.run_id)
    saved = _artifacts(uri, run.info.run_id, "model")
    assert "model/model.json" in saved and "model/params.npz" in saved
    # the artifacts sit beside the database, not in the directory the command ran in
    assert (tmp_path / "mlflow-artifacts").is_dir()


def test_compare_logs_one_nested_run_per_row_and_the_report(
    invoke: Invoke, ratings_dir: Path, tmp_path: Path
) -> None:
    uri = f"sqlite:///{tmp_path / 'track.db'}"
    report, results = tmp_path / "report", tmp_path / "results.json"
    code, text = invoke(
        "compare", "--data", ratings_dir, "--models", "pop,ease", "--rerank", "calibrated:0.5",
        "--no-diversity", "--out-dir", report, "--json", results, "--tracking-uri", uri,
    )  # fmt: skip
    assert code == 0, text
    runs = _runs(uri)
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    assert parent.info.run_name.startswith("compare") and parent.info.status == "FINISHED"
    assert parent.data.params["models"] == "pop,ease"
    assert parent.data.params["rerank"] == "['calibrated:0.5']"
    children = {r.info.run_name: r for r in _children(runs, parent)}
    assert set(children) == {"pop", "ease", "pop (calibrated:0.5)", "ease (calibrated:0.5)"}
    rows = {(r["model"], r["variant"]): r for r in json.loads(results.read_text())}
    ease = children["ease"]
    expected = rows[("ease", "train")]
    assert ease.data.metrics["ndcg_at_10"] == pytest.approx(expected["metrics"]["ndcg@10"])
    assert ease.data.params["config.reg"] == str(expected["config"]["reg"])
    steps = _client(uri).get_metric_history(ease.info.run_id, "tuning_valid_ndcg_at_10")
    assert len(steps) == len(expected["tuning_trials"]) > 1
    reranked = children["ease (calibrated:0.5)"].data.metrics["ndcg_at_10"]
    assert reranked == pytest.approx(rows[("ease", "calibrated:0.5")]["metrics"]["ndcg@10"])
    logged = _artifacts(uri, parent.info.run_id, "report")
    assert {"report/chart.png", "report/results.json", "report/report.md"} <= logged


def test_tune_logs_each_trial_with_its_epochs_and_the_best(
    invoke: Invoke, ratings_dir: Path, tmp_path: Path
) -> None:
    uri = f"sqlite:///{tmp_path / 'track.db'}"
    study, out = tmp_path / "study.db", tmp_path / "sasrec.toml"
    code, text = invoke(
        "tune", "sasrec", "--data", ratings_dir, "--trials", "3", "--set", "epochs=2",
        *TINY_SASREC, "--study", study, "--out", out, "--tracking-uri", uri,
    )  # fmt: skip
    assert code == 0, text
    runs = _runs(uri)
    (parent,) = [r for r in runs if "mlflow.parentRunId" not in r.data.tags]
    trials = _children(runs, parent)
    assert sorted(r.info.run_name for r in trials) == ["trial 0", "trial 1", "trial 2"]
    client = _client(uri)
    finals = []
    for trial in trials:
        assert {"lr", "dropout", "n_layers"} <= set(trial.data.params)
        epochs = client.get_metric_history(trial.info.run_id, "epoch_valid_ndcg_at_10")
        assert sorted(m.step for m in epochs) == [1, 2]  # after each epoch
        finals.append(trial.data.metrics["valid_ndcg_at_10"])
    assert parent.data.metrics["best_valid_ndcg_at_10"] == pytest.approx(max(finals))
    assert parent.data.metrics["trials_complete"] == 3
    assert "test_ndcg@10" not in parent.data.metrics and "test_ndcg_at_10" in parent.data.metrics
    assert parent.data.params["best.hidden"] == "16"  # fixed with --set, kept in the best
    assert {"search_history.png", "config"} <= _artifacts(uri, parent.info.run_id)


def test_track_uses_the_lmrec_home_and_the_environment_uri(
    invoke: Invoke, ratings_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("LMREC_HOME", str(home))
    monkeypatch.delenv("LMREC_TRACKING_URI", raising=False)
    args = ("train", "ease", "--data", ratings_dir, "--set", "reg=50")
    code, text = invoke(*args, "--out", tmp_path / "m1")
    assert code == 0, text
    assert not (home / "mlflow.db").exists()  # tracking is off unless asked for

    code, text = invoke(*args, "--out", tmp_path / "m2", "--track")
    assert code == 0, text
    (run,) = _runs(f"sqlite:///{home / 'mlflow.db'}")
    assert run.data.params["reg"] == "50.0" and (home / "mlflow-artifacts").is_dir()
    assert "training_curve.png" not in _artifacts(f"sqlite:///{home / 'mlflow.db'}",
                                                  run.info.run_id)  # fmt: skip

    other = f"sqlite:///{tmp_path / 'other.db'}"
    monkeypatch.setenv("LMREC_TRACKING_URI", other)
    code, text = invoke(*args, "--out", tmp_path / "m3")  # no --track: the variable is enough
    assert code == 0, text
    assert len(_runs(other)) == 1 and len(_runs(f"sqlite:///{home / 'mlflow.db'}")) == 1
    code, text = invoke(*args, "--out", tmp_path / "m4", "--no-track")  # one run left out
    assert code == 0, text
    assert "tracked" not in text and len(_runs(other)) == 1


def test_an_unusable_tracking_uri_is_a_one_line_error(
    invoke: Invoke, ratings_dir: Path, tmp_path: Path
) -> None:
    code, text = invoke(
        "train", "ease", "--data", ratings_dir, "--out", tmp_path / "m",
        "--tracking-uri", "nosuch://x",
    )  # fmt: skip
    assert code == 2
    assert "tracking URI 'nosuch://x' cannot be used" in text
    assert not (tmp_path / "m").exists()  # refused before the fit


def test_commands_without_tracking_never_import_mlflow(ratings_dir: Path, tmp_path: Path) -> None:
    script = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from lmrec.cli.main import _register_commands, app\n"
        "_register_commands()\n"
        f"r = CliRunner().invoke(app, ['train', 'ease', '--data', {str(ratings_dir)!r}, "
        f"'--out', {str(tmp_path / 'm')!r}])\n"
        "assert r.exit_code == 0, r.output\n"
        "print('mlflow' in sys.modules)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "LMREC_TRACKING_URI"}
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True
    )
    assert done.stdout.strip().splitlines()[-1] == "False"


def test_a_command_that_fails_leaves_a_failed_run(
    invoke: Invoke, ratings_dir: Path, tmp_path: Path
) -> None:
    uri = f"sqlite:///{tmp_path / 'track.db'}"
    code, text = invoke(
        "tune", "pop", "--data", ratings_dir, "--trials", "1", "--study", tmp_path / "s.db",
        "--tracking-uri", uri,
    )  # fmt: skip
    assert code == 2 and "declares no search space" in text
    (run,) = _runs(uri)
    assert run.info.status == "FAILED" and run.info.run_name == "tune pop"
