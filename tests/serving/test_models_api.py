"""GET /v1/models, promotion and rollback over HTTP, and following CLI promotions."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from serving_toys import AUTH, READ_AUTH, make_settings

from lmrec.serving.app import create_app
from lmrec.store.registry import ModelRegistry


def cold_top(client: TestClient) -> tuple[str, str]:
    body = client.get("/v1/users/stranger/recommendations", params={"k": 3}).json()
    return body["version"], body["items"][0]["item_id"]


def test_list_models(client: TestClient) -> None:
    body = client.get("/v1/models").json()
    assert body["default"] == "pop"
    rows = {(v["name"], v["version"]): v for v in body["versions"]}
    assert set(rows) == {("pop", "1"), ("pop", "2"), ("mf", "1"), ("text", "1")}
    assert rows[("pop", "1")]["live"] and rows[("pop", "1")]["loaded"]
    assert not rows[("pop", "2")]["live"] and not rows[("pop", "2")]["loaded"]
    assert rows[("pop", "1")]["metrics"] == {"ndcg@10": 0.1}
    assert rows[("mf", "1")]["model"] == "toy-mf"
    assert body["load_errors"] == {}


def test_promote_and_rollback(client: TestClient) -> None:
    assert cold_top(client)[0] == "1"
    r = client.post("/v1/models/pop/versions/2/promote", headers=AUTH)
    assert r.status_code == 200
    body = r.json()
    assert (body["name"], body["version"], body["previous"], body["model"]) == (
        "pop",
        "2",
        "1",
        "pop",
    )
    assert body["forced"] is False and all(c["passed"] for c in body["checks"])
    assert cold_top(client) == ("2", "i3")
    r = client.post("/v1/models/pop/rollback", headers=AUTH)
    assert r.json()["version"] == "1" and r.json()["previous"] == "2"
    assert cold_top(client)[0] == "1"
    r = client.post("/v1/models/pop/rollback", headers=AUTH)
    assert r.status_code == 409 and "no earlier live version" in r.json()["detail"]


def test_server_follows_promotions_made_elsewhere(registry_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(registry_dir, f"sqlite:///{tmp_path}/e.db")
    with TestClient(create_app(settings), headers=READ_AUTH) as client:
        ModelRegistry(registry_dir).promote("pop", "2")  # e.g. `lmrec models promote pop 2`
        client.app.state.ctx.hub.refresh()  # what the polling thread does every few seconds
        assert cold_top(client) == ("2", "i3")


def test_broken_version_does_not_stop_the_others(registry_dir: Path, tmp_path: Path) -> None:
    (registry_dir / "mf" / "1" / "params.npz").write_bytes(b"not a zip file")
    settings = make_settings(registry_dir, f"sqlite:///{tmp_path}/e.db")
    with TestClient(create_app(settings), headers=READ_AUTH) as client:
        body = client.get("/v1/models").json()
        assert "mf" in body["load_errors"]
        assert client.get("/v1/users/u1/recommendations").status_code == 200
        r = client.get("/v1/users/u1/recommendations", params={"model": "mf"})
        assert r.status_code == 404 and "no live model named 'mf'" in r.json()["detail"]
