"""Events (idempotent, durable), explanations, health, readiness and metrics."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serving_toys import AUTH, READ_AUTH, make_settings

from lmrec.events.store import EventStore, events_to_dataset
from lmrec.serving.app import create_app
from lmrec.store.registry import ModelRegistry


def event(eid: str, user: str = "u1", item: str = "i4", **extra: object) -> dict:
    return {"event_id": eid, "user_id": user, "item_id": item, "type": "click", **extra}


def test_events_are_idempotent_by_event_id(client: TestClient) -> None:
    batch = {"events": [event("e1"), event("e2"), event("e1")]}  # e1 twice in one batch
    assert client.post("/v1/events", json=batch, headers=AUTH).json() == {
        "received": 3, "new": 2, "duplicates": 1,
    }  # fmt: skip
    again = [event("e2"), event("e3", value=4.5, timestamp="2024-01-02T03:04:05Z")]
    assert client.post("/v1/events", json=again, headers=AUTH).json()["new"] == 1
    store: EventStore = client.app.state.ctx.store
    frame = store.events_frame()
    assert sorted(frame["event_id"]) == ["e1", "e2", "e3"]
    e3 = frame.set_index("event_id").loc["e3"]
    assert e3["value"] == 4.5 and e3["timestamp"] == 1704164645


def test_events_reach_a_dataset_for_retraining(client: TestClient) -> None:
    client.post(
        "/v1/items", json=[{"item_id": "i9", "attributes": {"genre": "Drama"}}], headers=AUTH
    )
    events = [event("a", "x", "i1"), event("b", "x", "i9"), event("c", "y", "i9", value=3.0)]
    client.post("/v1/events", json=events, headers=AUTH)
    ds = events_to_dataset(client.app.state.ctx.settings.db_url)
    assert ds.n_interactions == 3 and ds.n_users == 2
    assert sorted(ds.to_frame()["value"].tolist()) == [1.0, 1.0, 3.0]
    assert ds.items is not None and "genre" in ds.items.columns


def test_acknowledged_events_survive_a_restart(registry_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(registry_dir, f"sqlite:///{tmp_path}/e.db")
    with TestClient(create_app(settings), headers=READ_AUTH) as c:
        c.post("/v1/events", json=[event("keep", "newcomer", "i6")], headers=AUTH)
    with TestClient(create_app(settings), headers=READ_AUTH) as c:
        r = c.post("/v1/events", json=[event("keep", "newcomer", "i6")], headers=AUTH)
        assert r.json()["new"] == 0
        body = c.get("/v1/users/newcomer/recommendations", params={"k": 2}).json()
        assert body["cold_start"] is False


def test_explanation_names_history_items_attributes_and_score(client: TestClient) -> None:
    r = client.get("/v1/explanations", params={"user_id": "u3", "item_id": "i2"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "pop" and body["user_id"] == "u3"
    # co-occurrence: i2 shares 2 users with i1 (3 users) and none with i5
    assert body["because_of"] == [{"item_id": "i1", "similarity": pytest.approx(2 / 3)}]
    assert {"attribute": "genre", "value": "Comedy", "history_items": 2} in body[
        "shared_attributes"
    ]
    assert body["model_signal"] == {"score": 3.0, "rank": 1, "of": 6, "details": None}


def test_explanation_uses_fresh_events(client: TestClient) -> None:
    client.post("/v1/events", json=[event("x1", "fresh", "i6")], headers=AUTH)
    body = client.get(
        "/v1/explanations", params={"user_id": "fresh", "item_id": "i3", "model": "text"}
    ).json()
    assert body["because_of"] == [] or body["because_of"][0]["item_id"] == "i6"
    assert body["model_signal"]["rank"] >= 1


def test_health_and_readiness(client: TestClient, tmp_path: Path) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["models"]["pop"] == "1"
    empty = ModelRegistry(tmp_path / "empty")
    with TestClient(
        create_app(make_settings(empty.root, f"sqlite:///{tmp_path}/x.db")), headers=READ_AUTH
    ) as c:
        r = c.get("/readyz")
        assert r.status_code == 503 and "no model is live" in r.json()["detail"]
        r = c.get("/v1/users/u1/recommendations")
        assert r.status_code == 503 and "lmrec models promote" in r.json()["detail"]


def metric(text: str, name: str, labels: str = "") -> float:
    pattern = re.escape(name) + (r"\{" + labels + r"[^}]*\}" if labels else r"(\{[^}]*\})?")
    found = re.search(rf"^{pattern} ([0-9.e+-]+)$", text, re.M)
    assert found, f"{name} {labels} not in metrics"
    return float(found.group(found.lastindex or 1))


def test_metrics_count_requests_models_events_and_click_through(client: TestClient) -> None:
    rec = client.get("/v1/users/u3/recommendations", params={"k": 3}).json()
    request_id, shown = rec["request_id"], [i["item_id"] for i in rec["items"]]
    client.get("/v1/users/u4/recommendations", params={"k": 3})
    clicks = [
        event("c1", "u3", shown[0], request_id=request_id),
        event("c2", "u3", shown[0], request_id=request_id),  # the same click again
        event("c3", "u3", "i1", request_id=request_id),  # not shown in that list
        {**event("v1", "u3", shown[1], request_id=request_id), "type": "view"},
    ]
    assert client.post("/v1/events", json=clicks, headers=AUTH).json()["new"] == 4
    text = client.get("/metrics").text
    route = 'method="GET",route="/v1/users/{user_id}/recommendations"'
    assert metric(text, "lmrec_http_requests_total", route + ',status="200"') == 2
    assert metric(text, "lmrec_http_request_duration_seconds_count", route) == 2
    assert metric(text, "lmrec_events_ingested_total") == 4
    assert 'lmrec_model_info{model="pop",name="pop",version="1"} 1.0' in text
    assert metric(text, "lmrec_catalogue_items", 'name="pop"') == 6
    assert metric(text, "lmrec_served_impressions") == 6
    assert metric(text, "lmrec_served_clicks") == 1
    assert abs(metric(text, "lmrec_click_through_rate") - 1 / 6) < 1e-9
