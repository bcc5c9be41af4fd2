"""What bounds the service under load: the largest k (LMREC_MAX_K), the served log's
retention (age and rows), and admission control (429 with Retry-After per route)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from live_server import ThreadServer
from serving_toys import READ_AUTH, make_settings

from lmrec.events.store import EventStore
from lmrec.serving.app import create_app

ASKS_K = [
    ("get", "/v1/users/u1/recommendations?k={k}", None, "query k"),
    ("post", "/v1/recommendations", {"user_id": "u1"}, "body k"),
    ("post", "/v1/recommendations/batch", {"user_ids": ["u1"]}, "body k"),
    ("get", "/v1/items/i1/similar?k={k}", None, "query k"),
    ("post", "/v1/search", {"query": "comedy", "model": "text"}, "body k"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), ASKS_K)
def test_k_above_the_servers_cap_is_422_naming_the_field(
    registry_dir: Path, tmp_path: Path, method: str, path: str, body: dict | None, field: str
) -> None:
    settings = make_settings(registry_dir, f"sqlite:///{tmp_path / 'e.db'}", max_k=4)
    with TestClient(create_app(settings), headers=READ_AUTH) as c:
        for k, status in ((4, 200), (5, 422)):
            json = {**body, "k": k} if body is not None else None
            r = c.request(method, path.format(k=k), json=json)
            assert r.status_code == status, r.text
        problem = r.json()
        assert r.headers["content-type"] == "application/problem+json"
        assert problem["errors"][0]["field"] == field
        assert "LMREC_MAX_K" in problem["detail"] and "4" in problem["detail"]


def test_the_default_cap_is_100(client: TestClient) -> None:
    assert client.get("/v1/users/u1/recommendations", params={"k": 100}).status_code == 200
    r = client.get("/v1/users/u1/recommendations", params={"k": 101})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "query k"
    spec = client.get("/openapi.json").json()
    k = next(
        p
        for p in spec["paths"]["/v1/users/{user_id}/recommendations"]["get"]["parameters"]
        if p["name"] == "k"
    )
    assert k["schema"]["maximum"] == 100  # the document says what the server accepts
    assert spec["components"]["schemas"]["SearchRequest"]["properties"]["k"]["maximum"] == 100


def test_served_log_keeps_at_most_its_row_cap(registry_dir: Path, db_url: str) -> None:
    db = db_url
    settings = make_settings(registry_dir, db, served_max_rows=12, served_prune_seconds=0)
    with TestClient(create_app(settings), headers=READ_AUTH) as c:
        ids = []
        for n in range(10):
            r = c.get(f"/v1/users/new{n}/recommendations", params={"k": 5})
            assert len(r.json()["items"]) == 5
            ids.append(r.json()["request_id"])
            c.get("/metrics")  # a scrape flushes the served log (and prunes it when due)
    store = EventStore(db)
    try:
        assert 0 < store.count_served() <= 12  # 50 rows were served
        with store.engine.connect() as conn:
            kept = {r[0] for r in conn.exec_driver_sql("SELECT request_id FROM lmrec_served")}
    finally:
        store.close()
    assert ids[-1] in kept and ids[0] not in kept  # the newest stay, the oldest go


def test_served_rows_older_than_the_retention_are_deleted(
    registry_dir: Path, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'e.db'}"
    store = EventStore(db)
    old = time.time() - 40 * 86_400  # the default retention is 30 days
    store.log_served(
        [("old-request", f"i{n}", n, "pop", "1", old, "greedy", 1.0, None, None) for n in (1, 2, 3)]
    )
    store.close()
    settings = make_settings(registry_dir, db, served_prune_seconds=0)
    with TestClient(create_app(settings), headers=READ_AUTH) as c:
        request_id = c.get("/v1/users/u1/recommendations").json()["request_id"]
        c.get("/metrics")
    store = EventStore(db)
    try:
        with store.engine.connect() as conn:
            kept = {r[0] for r in conn.exec_driver_sql("SELECT request_id FROM lmrec_served")}
    finally:
        store.close()
    assert kept == {request_id}


def test_a_saturated_route_answers_429_with_retry_after(registry_dir: Path, tmp_path: Path) -> None:
    """With one request of a route allowed at a time, a second one while the first is
    held answers 429 at once; other routes still answer; after the first finishes the
    route serves again."""
    settings = make_settings(registry_dir, f"sqlite:///{tmp_path / 'e.db'}", route_concurrency=1)
    app = create_app(settings)
    release = threading.Event()
    entered = threading.Event()
    with ThreadServer(app) as server:
        ctx = app.state.ctx
        real_history = ctx.fresh_history

        def held_history(user_id: str | None) -> list[str]:
            if user_id == "held":  # the first request waits here, in flight
                entered.set()
                release.wait(30)
            return real_history(user_id)

        ctx.fresh_history = held_history
        base = f"http://127.0.0.1:{server.port}"
        first: dict[str, int] = {}

        def send_first() -> None:
            r = httpx.get(f"{base}/v1/users/held/recommendations", headers=READ_AUTH, timeout=30)
            first["status"] = r.status_code

        thread = threading.Thread(target=send_first)
        thread.start()
        assert entered.wait(30)
        r = httpx.get(f"{base}/v1/users/u1/recommendations", headers=READ_AUTH, timeout=30)
        assert r.status_code == 429, r.text
        assert r.headers["retry-after"] == "1"
        assert r.headers["content-type"] == "application/problem+json"
        assert "/v1/users/{user_id}/recommendations" in r.json()["detail"]
        assert httpx.get(f"{base}/v1/items/i1/similar", timeout=30).status_code == 200
        release.set()
        thread.join(30)
        assert first["status"] == 200
        r = httpx.get(f"{base}/v1/users/u1/recommendations", headers=READ_AUTH, timeout=30)
        assert r.status_code == 200
        metrics = httpx.get(f"{base}/metrics", timeout=30).text
        assert 'route="/v1/users/{user_id}/recommendations",status="429"' in metrics
