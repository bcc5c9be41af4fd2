"""API keys on write and admin endpoints (and on reads when asked); CORS off by default."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serving_toys import AUTH, make_settings

from lmrec.serving.app import create_app

EVENT = [{"event_id": "a1", "user_id": "u1", "item_id": "i1", "type": "view"}]
WRITES = [
    ("post", "/v1/events", EVENT),
    ("post", "/v1/items", [{"item_id": "new", "text": "a new thing"}]),
    ("post", "/v1/models/pop/versions/2/promote", None),
    ("post", "/v1/models/pop/rollback", None),
]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_missing_key_is_401(client: TestClient, method: str, path: str, body: object) -> None:
    r = client.request(method, path, json=body)
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    assert "Authorization: Bearer" in r.json()["detail"]


@pytest.mark.parametrize(("method", "path", "body"), WRITES)
def test_wrong_key_is_403(client: TestClient, method: str, path: str, body: object) -> None:
    r = client.request(
        method, path, json=body, headers={"Authorization": "Bearer not-the-key-at-all"}
    )
    assert r.status_code == 403
    assert "not valid" in r.json()["detail"]


def test_wrong_scheme_is_401(client: TestClient) -> None:
    r = client.post("/v1/events", json=EVENT, headers={"Authorization": "Basic dTpw"})
    assert r.status_code == 401


def test_right_key_is_accepted(client: TestClient) -> None:
    assert client.post("/v1/events", json=EVENT, headers=AUTH).status_code == 200


def test_reads_are_open_by_default(client: TestClient) -> None:
    assert client.get("/v1/users/u1/recommendations").status_code == 200
    assert client.get("/v1/models").status_code == 200


def test_reads_can_require_a_key(registry_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(registry_dir, f"sqlite:///{tmp_path}/e.db", read_requires_key=True)
    with TestClient(create_app(settings)) as c:
        assert c.get("/v1/users/u1/recommendations").status_code == 401
        assert c.get("/metrics").status_code == 401
        assert c.get("/v1/users/u1/recommendations", headers=AUTH).status_code == 200
        assert c.get("/healthz").status_code == 200  # probes stay open


def test_no_keys_configured_closes_writes(registry_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(registry_dir, f"sqlite:///{tmp_path}/e.db", api_keys=[])
    with TestClient(create_app(settings)) as c:
        r = c.post("/v1/events", json=EVENT, headers=AUTH)
        assert r.status_code == 403 and "LMREC_API_KEYS" in r.json()["detail"]


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
