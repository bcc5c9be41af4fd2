"""Cold start measured end to end: items held out entirely (ranked among new items only)
and users with a handful of training interactions, on small synthetic data whose item
text carries the topic structure (real text model)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from lmrec.cli.main import _register_commands, app
from lmrec.data.dataset import Dataset
from lmrec.data.splitters import cold_items_split, cold_users_split
from lmrec.data.synthetic import generate
from lmrec.encoders import TextEncoder
from lmrec.experiment.compare import compare_models

_register_commands()

HYBRID = {"factors": 16, "epochs": 15, "batch_size": 256, "lr": 0.02, "threads": 1}
SETTINGS = {"hybrid": HYBRID}
TEXT_MODELS = ("tfidf", "content", "hybrid")


@pytest.fixture(scope="module")
def data() -> Dataset:
    return generate(n_users=150, n_items=200, n_interactions=4000, n_topics=8, seed=5)


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMREC_CACHE_DIR", str(tmp_path / "cache"))


def test_cold_items_are_ranked_among_new_items_and_text_beats_chance(
    minilm: TextEncoder, data: Dataset
) -> None:
    split = cold_items_split(data, fraction=0.2, seed=1)
    new_items = np.flatnonzero(split.train.item_counts() == 0)
    assert not set(split.test.items_idx) - set(new_items)  # every test item is new
    rows = compare_models(
        split, ["random", "pop", *TEXT_MODELS], "cold-items", settings=SETTINGS, tune=False
    )
    ndcg = {r.model: r.metrics["ndcg@10"] for r in rows}
    for r in rows:
        assert r.result is not None and r.result.meta["n_items_ranked"] == len(new_items)
    # nothing to go on but text: popularity has no signal, text models do
    for name in TEXT_MODELS:
        assert ndcg[name] > 2 * ndcg["random"], ndcg
    assert ndcg["pop"] < ndcg["content"]


def test_cold_users_protocol_runs_for_text_and_behaviour_models(
    minilm: TextEncoder, data: Dataset
) -> None:
    split = cold_users_split(data, fraction=0.3, max_train=3, seed=1)
    rows = compare_models(
        split, ["pop", "ease", "hybrid"], "cold-users", settings=SETTINGS, tune=False
    )
    cold_users = set(split.test.users_idx)
    for r in rows:
        assert r.result is not None and r.result.n_users == len(cold_users)
        assert 0.0 < r.metrics["ndcg@10"] <= 1.0


def test_compare_cli_cold_items(minilm: TextEncoder, data: Dataset, tmp_path: Path) -> None:
    root = tmp_path / "data"
    root.mkdir()
    data.to_frame().to_csv(root / "interactions.csv", index=False)
    assert data.items is not None
    data.items.to_csv(root / "items.csv", index=False)
    args = (
        f"compare --data {root} --models random,content,hybrid --protocol cold-items "
        f"--no-tune --out-dir {tmp_path / 'report'} --json {tmp_path / 'rows.json'} "
        "--set hybrid.epochs=5 --set hybrid.threads=1"
    )
    result = CliRunner().invoke(app, args.split(), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    rows = {r["model"]: r for r in json.loads((tmp_path / "rows.json").read_text())}
    assert {r["protocol"] for r in rows.values()} == {"cold-items"}
    assert rows["content"]["metrics"]["ndcg@10"] > rows["random"]["metrics"]["ndcg@10"]
    assert "hybrid" in (tmp_path / "report" / "report.md").read_text()
