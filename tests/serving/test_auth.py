"""API keys with scopes (admin, write, read): writes and admin endpoints need their
scope, reads that reveal a user's events need a read key by default, the others are open
unless the server asks; /metrics and /docs as configured; CORS off by default."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serving_toys import AUTH, READ_AUTH, READ_KEY, WRITE_AUTH, make_settings

from lmrec.serving.app import create_app

EVENT = [{"event_id": "a1", "user_id": "u1", "item_id": "i1", "type": "view"}]
WRITES = [
    ("post", "/v1/events", EVENT),
    ("post", "/v1/items", [{"item_id": "new", "text": "a new thing"}]),
    ("post", "/v1/models/pop/versions/2/promote", None),
    ("post", "/v1/models/pop/rollback", None),
]


#: reads that reveal what a user did: their lists, their history under `because_of`
PERSONAL = [
    ("get", "/v1/users/u1/recommendations", None),
    ("get", "/v1/explanations?user_id=u1&item_id=i4", None),
    ("post", "/v1/recommendations", {"user_id": "u1"}),
    ("post", "/v1/recommendations/batch", {"user_ids": ["u1"]}),
    ("post", "/v1/search", {"query": "comedy", "user_id": "u1", "model": "text"}),
]
#: reads about items and models only
NON_PERSONAL = [
    ("get", "/v1/items/i1/similar", None),
    ("get", "/v1/items/i1", None),
    ("get", "/v1/models", None),
    ("post", "/v1/recommendations", {"history": ["i1"]}),
    ("post", "/v1/search", {"query": "comedy", "model": "text"}),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_missing_key_is_401(anonymous: TestClient, method: str, path: str, body: object) -> None:
    r = anonymous.request(method, path, json=body)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in r.json()["detail"]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_wrong_key_is_403(anonymous: TestClient, method: str, path: str, body: object) -> None:
    r = anonymous.request(
        method, path, json=body, headers={"Authorization": "Bearer not-the-key-at-all"}
    )
    assert r.status_code == 403
    assert "not valid" in r.json()["detail"]


def test_wrong_scheme_is_401(anonymous: TestClient) -> None:
    r = anonymous.post("/v1/events", json=EVENT, headers={"Authorization": "Basic dTpw"})
    assert r.status_code == 401


def test_right_key_is_accepted(anonymous: TestClient) -> None:
    assert anonymous.post("/v1/events", json=EVENT, headers=AUTH).status_code == 200


def test_scopes_admin_write_read(anonymous: TestClient) -> None:
    """A write key stores events and items but cannot promote; a read key writes nothing;
    an admin key (LMREC_API_KEYS, as before scopes) does everything."""
    assert anonymous.post("/v1/events", json=EVENT, headers=WRITE_AUTH).status_code == 200
    items = [{"item_id": "new", "text": "a new thing"}]
    assert anonymous.post("/v1/items", json=items, headers=WRITE_AUTH).status_code == 200
    r = anonymous.post("/v1/models/pop/versions/2/promote", headers=WRITE_AUTH)
    assert r.status_code == 403 and "admin scope; this key has write scope" in r.json()["detail"]
    r = anonymous.post("/v1/events", json=EVENT, headers=READ_AUTH)
    assert r.status_code == 403 and "write scope; this key has read scope" in r.json()["detail"]
    assert anonymous.post("/v1/models/pop/rollback", headers=READ_AUTH).status_code == 403
    r = anonymous.post("/v1/models/pop/versions/2/promote", headers=AUTH)
    assert r.status_code in (200, 409)  # allowed; the checks decide
    for headers in (READ_AUTH, WRITE_AUTH, AUTH):
        assert anonymous.get("/v1/users/u1/recommendations", headers=headers).status_code == 200


@pytest.mark.parametrize(("method", "path", "body"), PERSONAL)
def test_reads_naming_a_user_need_a_read_key(
    anonymous: TestClient, method: str, path: str, body: object
) -> None:
    r = anonymous.request(method, path, json=body)
    assert r.status_code == 401, r.text
    assert "user_id" in r.json()["detail"] and r.headers["www-authenticate"] == "Bearer"
    bad = {"Authorization": "Bearer not-the-key-at-all"}
    assert anonymous.request(method, path, json=body, headers=bad).status_code == 403
    r = anonymous.request(method, path, json=body, headers=READ_AUTH)
    assert r.status_code == 200, r.text


def test_explanations_do_not_list_history_without_a_key(anonymous: TestClient) -> None:
    r = anonymous.get("/v1/explanations", params={"user_id": "u1", "item_id": "i4"})
    assert r.status_code == 401 and "because_of" not in r.text
    r = anonymous.get(
        "/v1/explanations", params={"user_id": "u1", "item_id": "i4"}, headers=READ_AUTH
    )
    assert r.status_code == 200 and "because_of" in r.json()


@pytest.mark.parametrize(("method", "path", "body"), NON_PERSONAL)
def test_reads_about_items_are_open_by_default(
    anonymous: TestClient, method: str, path: str, body: object
) -> None:
    r = anonymous.request(method, path, json=body)
    assert r.status_code == 200, r.text


def test_read_access_key_closes_every_read(registry_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(registry_dir, f"sqlite:///{tmp_path}/e.db", read_access="key")
    with TestClient(create_app(settings)) as c:
        for method, path, body in NON_PERSONAL + PERSONAL:
            assert c.request(method, path, json=body).status_code == 401, path
            assert c.request(method, path, json=body, headers=READ_AUTH).status_code == 200
        assert c.get("/metrics").status_code == 401  # metrics follow the reads by default
        assert c.get("/metrics", headers=READ_AUTH).status_code == 200
        assert c.get("/healthz").status_code == 200  # probes stay open
        assert c.get("/readyz").status_code == 200


def test_older_read_requires_key_still_closes_reads(registry_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(registry_dir, f"sqlite:///{tmp_path}/e.db", read_requires_key=True)
    assert settings.read_access == "key"
    with TestClient(create_app(settings)) as c:
        assert c.get("/v1/models").status_code == 401
        assert c.get("/v1/models", headers=AUTH).status_code == 200


def test_read_access_open_opens_personal_reads(registry_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(registry_dir, f"sqlite:///{tmp_path}/e.db", read_access="open")
    with TestClient(create_app(settings)) as c:
        for method, path, body in PERSONAL:
            assert c.request(method, path, json=body).status_code == 200, path
        assert c.post("/v1/events", json=EVENT).status_code == 401  # writes stay closed


def test_metrics_and_docs_exposure(registry_dir: Path, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/e.db"
    with TestClient(create_app(make_settings(registry_dir, db))) as c:
        assert c.get("/metrics").status_code == 200
        assert c.get("/docs").status_code == 200 and c.get("/openapi.json").status_code == 200
    closed = make_settings(registry_dir, db, metrics_access="key", expose_docs=False)
    with TestClient(create_app(closed)) as c:
        assert c.get("/metrics").status_code == 401
        assert c.get("/metrics", headers={"Authorization": f"Bearer {READ_KEY}"}).status_code == 200
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert c.get(path).status_code == 404, path
    with TestClient(create_app(make_settings(registry_dir, db, metrics_access="off"))) as c:
        assert c.get("/metrics", headers=AUTH).status_code == 404


def test_no_keys_configured_closes_writes_and_personal_reads(
    registry_dir: Path, tmp_path: Path
) -> None:
    settings = make_settings(
        registry_dir, f"sqlite:///{tmp_path}/e.db", api_keys=[], write_keys=[], read_keys=[]
    )
    with TestClient(create_app(settings)) as c:
        r = c.post("/v1/events", json=EVENT, headers=AUTH)
        assert r.status_code == 403 and "LMREC_API_KEYS" in r.json()["detail"]
        r = c.get("/v1/users/u1/recommendations")
        assert r.status_code == 403 and "LMREC_API_KEYS" in r.json()["detail"]
        assert c.get("/v1/items/i1/similar").status_code == 200


def test_cors_is_off_by_default_and_can_be_enabled(registry_dir: Path, tmp_path: Path) -> None:
    origin = {"Origin": "https://shop.example"}
    settings = make_settings(registry_dir, f"sqlite:///{tmp_path}/e.db")
    with TestClient(create_app(settings)) as c:
        r = c.get("/v1/users/u1/recommendations", headers=origin)
        assert "access-control-allow-origin" not in r.headers
    settings = make_settings(
        registry_dir, f"sqlite:///{tmp_path}/e.db", cors_origins=["https://shop.example"]
    )
    with TestClient(create_app(settings)) as c:
        r = c.get("/v1/users/u1/recommendations", headers=origin)
        assert r.headers["access-control-allow-origin"] == "https://shop.example"
