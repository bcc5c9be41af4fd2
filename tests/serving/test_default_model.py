"""The model answering requests that name none is the one the operator chose, and stays
so across catalogue additions, promotions and restarts."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from serving_toys import AUTH, READ_AUTH, ToyText, make_settings, toy_dataset
from typer.testing import CliRunner

from lmrec.cli.main import _register_commands, app
from lmrec.serving.app import create_app
from lmrec.store.registry import ModelRegistry

_register_commands()


def lmrec(*args: object) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def default_of(client: TestClient) -> tuple[str | None, str, str]:
    """(GET /v1/models's default, its source, the model that answers a request naming none)."""
    listing = client.get("/v1/models").json()
    answered = client.get("/v1/users/u1/recommendations", params={"k": 2})
    assert answered.status_code == 200, answered.text
    return listing["default"], listing["default_source"], answered.json()["model"]


def test_default_survives_items_promotions_and_restarts(registry_dir: Path, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'events.db'}"
    settings = make_settings(registry_dir, db, default_model=None)
    with TestClient(create_app(settings), headers=READ_AUTH) as client:
        # nobody chose: the first name registered ("pop"), not the last one loaded
        assert default_of(client) == ("pop", "first registered", "pop")
        # new items reload the text model, which must not make it the default
        item = {"item_id": "i9", "text": "a new comedy", "attributes": {"genre": "Comedy"}}
        added = client.post("/v1/items", json={"items": [item]}, headers=AUTH)
        assert added.json()["models"]["text"] == "added"
        assert default_of(client) == ("pop", "first registered", "pop")
        # promoting another name's version does not either
        ModelRegistry(registry_dir).register(ToyText().fit(toy_dataset()), "text")
        promoted = client.post("/v1/models/text/versions/2/promote", headers=AUTH)
        assert promoted.status_code == 200, promoted.text
        assert default_of(client) == ("pop", "first registered", "pop")
        # the operator chooses; a running server follows (its poll calls refresh)
        assert "was not chosen" in lmrec("models", "default", "mf", "--registry", registry_dir)
        client.app.state.ctx.hub.refresh()
        assert default_of(client) == ("mf", "registry", "mf")
        client.post("/v1/items", json={"items": [{**item, "item_id": "i10"}]}, headers=AUTH)
        client.post("/v1/models/pop/versions/2/promote", headers=AUTH)
        assert default_of(client) == ("mf", "registry", "mf")
    # a restart keeps the choice
    with TestClient(create_app(settings), headers=READ_AUTH) as client:
        assert default_of(client) == ("mf", "registry", "mf")
    assert "default model: mf (registry)" in lmrec("models", "default", "--registry", registry_dir)
    # one server may override the registry's choice for itself
    own = make_settings(registry_dir, db, default_model="text")
    with TestClient(create_app(own), headers=READ_AUTH) as client:
        assert default_of(client) == ("text", "settings", "text")


def test_a_default_that_is_not_live_is_not_replaced_silently(
    registry_dir: Path, tmp_path: Path
) -> None:
    (registry_dir / "mf" / "1" / "params.npz").write_bytes(b"not a zip file")
    lmrec("models", "default", "mf", "--registry", registry_dir)
    settings = make_settings(registry_dir, f"sqlite:///{tmp_path / 'e.db'}", default_model=None)
    with TestClient(create_app(settings), headers=READ_AUTH) as client:
        listing = client.get("/v1/models").json()
        assert listing["default"] == "mf" and listing["default_live"] is False
        r = client.get("/v1/users/u1/recommendations")
        assert r.status_code == 503
        assert "default model 'mf'" in r.json()["detail"] and "load error" in r.json()["detail"]
        assert (
            client.get("/v1/users/u1/recommendations", params={"model": "pop"}).status_code == 200
        )
