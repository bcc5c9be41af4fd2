"""Retrain from the event store and promote, as an operator does, with a real registry and
event store: the retrain merges the original data with the stored events, and promotion
refuses a degenerate candidate unless forced."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from serving_toys import AUTH, READ_AUTH, make_settings
from typer.testing import CliRunner

from lmrec.cli.main import _register_commands, app
from lmrec.data.synthetic import generate
from lmrec.events.store import EventStore
from lmrec.serving.app import create_app
from lmrec.store.registry import ModelRegistry

_register_commands()


def lmrec(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def shop_log(tmp_path: Path) -> Path:
    log = generate(n_users=80, n_items=60, n_interactions=2400, seed=11).to_frame()
    path = tmp_path / "log.csv"
    log.to_csv(path, index=False)
    return path


def store_a_few_events(url: str) -> None:
    """3 users x 6 items, one of them an item only these events know (as in a new shop)."""
    items = ["1", "2", "3", "4", "5", "brand-new"]
    events = [
        {"event_id": f"e{u}{i}", "user_id": f"web{u}", "item_id": item, "type": "click",
         "value": None, "timestamp": 1_700_000_000 + u * 10 + i, "request_id": None}
        for u in range(3) for i, item in enumerate(items)
    ]  # fmt: skip
    store = EventStore(url)
    assert store.add_events(events) == 18
    store.close()


def test_retrain_merges_and_promotion_refuses_a_degenerate_model(
    shop_log: Path, db_url: str, tmp_path: Path
) -> None:
    reg = tmp_path / "registry"
    code, _, err = lmrec("train", "als", "--data", shop_log, "--out", tmp_path / "v1",
                         "--registry", reg, "--register", "als")  # fmt: skip
    assert code == 0, err
    store_a_few_events(db_url)

    # retrain on the stored events alone: allowed, and said plainly
    code, out, err = lmrec("train", "als", "--from-store", db_url, "--events-only",
                           "--protocol", "none", "--out", tmp_path / "v2",
                           "--registry", reg, "--register", "als")  # fmt: skip
    assert code == 0, err
    assert "18 stored events alone (3 users, 6 items)" in err
    assert "original training data is not included" in err
    assert "version 1 stays live" in out

    # promotion compares it with the live version and refuses it
    code, out, err = lmrec("models", "promote", "als", "2", "--registry", reg)
    assert code == 2
    assert "refused to promote als version 2 over live version 1" in err
    assert "catalogue: the candidate knows 5 of the live version's 60 items" in err
    assert "users: the candidate knows 0 of the live version's 80 users" in err
    assert "--force" in err
    assert ModelRegistry(reg).live_version("als") == "1"

    # the service refuses it too (409, the checks in the body), and takes it when forced
    settings = make_settings(reg, db_url, default_model="als")
    with TestClient(create_app(settings), headers=READ_AUTH) as client:
        r = client.post("/v1/models/als/versions/2/promote", headers=AUTH)
        assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"
        failed = {c["check"] for c in r.json()["errors"] if not c["passed"]}
        assert {"catalogue", "users"} <= failed
        r = client.post("/v1/models/als/versions/2/promote?force=true", headers=AUTH)
        assert r.status_code == 200 and r.json()["forced"] is True
        assert client.get("/v1/models").json()["default"] == "als"

        # the live version now records no training data: a merge says what to do
        code, _, err = lmrec("train", "als", "--from-store", db_url, "--out", tmp_path / "x",
                             "--registry", reg, "--register", "als")  # fmt: skip
        assert code == 2 and "als version 2 does not record the data it was trained on" in err
        assert client.post("/v1/models/als/rollback", headers=AUTH).json()["version"] == "1"

    # retrain from the store again: the original log plus the events, by default
    code, out, err = lmrec("train", "als", "--from-store", db_url, "--out", tmp_path / "v3",
                           "--registry", reg, "--register", "als")  # fmt: skip
    assert code == 0, err
    assert f"merged 2,400 interactions from {shop_log.absolute()} with 18 stored events" in err
    assert "3 users and 1 items new" in err
    meta = json.loads((tmp_path / "v3" / "model.json").read_text())
    assert meta["data"] == str(shop_log.absolute()) and meta["store_events"] == 18
    assert (tmp_path / "v3" / "holdout.parquet").exists()

    code, out, err = lmrec("models", "promote", "als", "3", "--registry", reg)
    assert code == 0, err
    assert "ok   catalogue: the candidate knows 60 of the live version's 60 items" in out
    assert "ok   holdout: NDCG@10" in out and "als: version 3 is live (was 1)" in out
    assert ModelRegistry(reg).live_version("als") == "3"


def test_from_store_needs_to_know_what_to_merge_with(db_url: str, tmp_path: Path) -> None:
    store_a_few_events(db_url)
    code, _, err = lmrec("train", "pop", "--from-store", db_url, "--out", tmp_path / "m",
                         "--registry", tmp_path / "r")  # fmt: skip
    assert code == 2 and "--from-store merges the stored events with the data" in err
    code, _, err = lmrec("train", "pop", "--data", "x.csv", "--events-only", "--out", tmp_path)
    assert code == 2 and "go with --from-store URL" in err


def test_base_data_catalogue_is_merged(shop_log: Path, db_url: str, tmp_path: Path) -> None:
    """Items added through the API join the catalogue of the merged data."""
    store_a_few_events(db_url)
    store = EventStore(db_url)
    store.upsert_items([{"item_id": "brand-new", "text": "a new thing", "attributes": {}}])
    store.close()
    code, _, err = lmrec("train", "pop", "--from-store", db_url, "--base-data", shop_log,
                         "--protocol", "none", "--out", tmp_path / "m")  # fmt: skip
    assert code == 0, err
    items = pd.read_parquet(next((tmp_path / "m").glob("items*.parquet")))
    assert "a new thing" in items.set_index("item_id").loc["brand-new"].tolist()


def test_a_store_trained_model_is_not_evaluated_on_a_rebuilt_split(
    shop_log: Path, db_url: str, tmp_path: Path
) -> None:
    store_a_few_events(db_url)
    code, _, err = lmrec("train", "pop", "--from-store", db_url, "--base-data", shop_log,
                         "--out", tmp_path / "m")  # fmt: skip
    assert code == 0, err
    code, _, err = lmrec("evaluate", tmp_path / "m")
    assert code == 2 and "trained with the events of a store" in err
