"""Loose input refused: k must be a JSON integer, event times must fall in a sane window
(not before 1970, not further ahead than the allowed clock skew); and what a promotion of
the live version over HTTP leaves behind is what a restart sees."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from serving_toys import AUTH, make_settings

from lmrec.serving.app import create_app
from lmrec.store.registry import ModelRegistry


def field_of(r: Any) -> str:
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    return r.json()["errors"][0]["field"]


@pytest.mark.parametrize("k", [True, False, "5", 2.5])
def test_k_must_be_a_json_integer(client: TestClient, k: Any) -> None:
    assert field_of(client.post("/v1/recommendations", json={"user_id": "u1", "k": k})) == "body k"
    r = client.post("/v1/recommendations/batch", json={"user_ids": ["u1"], "k": k})
    assert field_of(r) == "body k"
    assert field_of(client.post("/v1/search", json={"query": "comedy", "k": k})) == "body k"
    for fine in (5, 5.0):  # 5.0 is an integer to JSON Schema
        r = client.post("/v1/recommendations", json={"user_id": "u1", "k": fine})
        assert r.status_code == 200 and len(r.json()["items"]) == 3  # all u1 has not seen


def event(timestamp: Any, event_id: str = "e1") -> dict[str, Any]:
    return {"event_id": event_id, "user_id": "u9", "item_id": "i1", "type": "view",
            "timestamp": timestamp}  # fmt: skip


@pytest.mark.parametrize(
    ("stamp", "why"),
    [
        ("0001-01-01T00:00:00", "before 1970"),
        (-5, "before 1970"),
        ("9999-12-31T23:59:59Z", "in the future"),
        (99_999_999_999, "in the future"),  # seconds: the year 5138, not 1973 in ms
        (1_700_000_000_000, "seconds since the epoch"),  # milliseconds
        (True, "timestamp"),
    ],
)
def test_event_times_outside_the_window_are_422(client: TestClient, stamp: Any, why: str) -> None:
    ok = event(int(time.time()) - 3600, "e0")
    r = client.post("/v1/events", json=[ok, event(stamp)], headers=AUTH)
    assert field_of(r) == "body events.1.timestamp"
    assert why in r.json()["detail"], r.json()["detail"]
    assert client.post("/v1/events", json=[ok], headers=AUTH).json()["new"] == 1  # none stored


def test_a_future_event_within_the_allowed_skew_is_kept(client: TestClient) -> None:
    soon = datetime.fromtimestamp(time.time() + 3600, UTC).isoformat()
    r = client.post("/v1/events", json=[event(soon), event(1_000_000_000, "e2")], headers=AUTH)
    assert r.status_code == 200 and r.json()["new"] == 2
    r = client.post("/v1/events", json=[event(time.time() + 3 * 86400, "e3")], headers=AUTH)
    assert field_of(r) == "body events.0.timestamp"
    assert "1 day" in r.json()["detail"] or "86400" in r.json()["detail"]


def test_the_allowed_skew_is_a_setting(registry_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(
        registry_dir, f"sqlite:///{tmp_path}/e.db", event_max_future_seconds=10
    )
    with TestClient(create_app(settings)) as c:
        r = c.post("/v1/events", json=[event(time.time() + 120)], headers=AUTH)
        assert field_of(r) == "body events.0.timestamp"
        r = c.post("/v1/events", json=[event(time.time() + 1)], headers=AUTH)
        assert r.status_code == 200


def test_promoting_the_live_version_over_http_is_what_a_restart_sees(
    registry_dir: Path, tmp_path: Path
) -> None:
    settings = make_settings(registry_dir, f"sqlite:///{tmp_path}/e.db", default_model=None)
    registry = ModelRegistry(registry_dir)
    history = registry.state("mf")["history"]
    with TestClient(create_app(settings)) as c:
        default = c.get("/v1/models").json()["default"]
        r = c.post("/v1/models/mf/versions/1/promote", headers=AUTH)
        assert r.status_code == 200 and (r.json()["version"], r.json()["previous"]) == ("1", "1")
        assert c.get("/v1/models").json()["default"] == default  # not changed in memory
        served = c.get("/readyz").json()["models"]
    assert registry.live_version("mf") == "1" and registry.state("mf")["history"] == history
    with TestClient(create_app(settings)) as again:
        assert again.get("/v1/models").json()["default"] == default
        assert again.get("/readyz").json()["models"] == served
