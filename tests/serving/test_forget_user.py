"""Forgetting a user, as an operator does it: DELETE /v1/users/{id} on a running service
and `lmrec users forget`, then a restart and a retrain from the store. The user's data must
be gone from the store, from the live models and from the next trained model, and the
audit table must say it happened without holding the id."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from serving_toys import AUTH, make_settings
from sqlalchemy import select
from typer.testing import CliRunner

from lmrec.cli.main import _register_commands, app
from lmrec.core.pseudonyms import SECRET_FILE, user_key
from lmrec.data.synthetic import generate
from lmrec.events.schema import forgotten, served, served_users
from lmrec.events.store import EventStore
from lmrec.models.artifacts import load_model
from lmrec.serving.app import create_app
from lmrec.store.registry import ModelRegistry

_register_commands()
GONE = "7"  # a user of the training log, who also sends events and asks for lists


def lmrec(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """LMREC_HOME for the command line and the service alike (they share the id secret)."""
    monkeypatch.setenv("LMREC_HOME", str(tmp_path))
    monkeypatch.delenv("LMREC_ID_SECRET", raising=False)
    return tmp_path


@pytest.fixture
def trained(home: Path) -> Path:
    """als and sasrec trained on a synthetic log and registered; returns the registry."""
    log = generate(n_users=60, n_items=50, n_interactions=1200, seed=3).to_frame()
    log.to_csv(home / "log.csv", index=False)
    reg = home / "registry"
    for name, extra in (("als", []), ("sasrec", ["--set", "epochs=2", "--set", "threads=1"])):
        code, _, err = lmrec("train", name, "--data", home / "log.csv", "--out", home / name,
                             "--registry", reg, "--register", name, *extra)  # fmt: skip
        assert code == 0, err
    return reg


def events_of(user: str, items: list[str], request_id: str | None = None) -> list[dict]:
    return [
        {"event_id": f"{user}-{item}", "user_id": user, "item_id": item, "type": "click",
         "request_id": request_id}
        for item in items
    ]  # fmt: skip


def test_forget_a_user_everywhere(trained: Path, home: Path, db_url: str) -> None:
    settings = make_settings(trained, db_url, default_model="als")
    with TestClient(create_app(settings)) as client:
        ctx = client.app.state.ctx
        before = client.get(f"/v1/users/{GONE}/recommendations?model=sasrec", headers=AUTH).json()
        assert before["cold_start"] is False
        served_to_them = before["request_id"]
        other = client.get("/v1/users/8/recommendations", headers=AUTH).json()["request_id"]
        clicked = before["items"][0]["item_id"]
        body = {"events": [*events_of(GONE, [clicked, "3"], served_to_them),
                           *events_of("8", ["3"], other)]}  # fmt: skip
        assert client.post("/v1/events", json=body, headers=AUTH).json()["new"] == 3
        popularity = ctx.hub.get("als").popularity.copy()

        assert client.delete(f"/v1/users/{GONE}").status_code == 401
        r = client.delete(f"/v1/users/{GONE}", headers=AUTH)
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["events_deleted"] == 2 and answer["served_deleted"] == 10
        assert answer["models"] == {"als": "forgotten", "sasrec": "forgotten"}

        # the store: no event, no served list, no owner row of theirs; the others' stay
        frame = ctx.store.events_frame()
        assert GONE not in set(frame["user_id"]) and set(frame["user_id"]) == {"8"}
        with ctx.store.engine.connect() as conn:
            lists = set(conn.execute(select(served.c.request_id)).scalars())
            owners = conn.execute(select(served_users.c.user_key)).scalars().all()
            audit = conn.execute(select(forgotten)).mappings().all()
        assert served_to_them not in lists and other in lists
        assert answer["user_key"] not in owners
        # the audit row: the keyed hash and counts, never the id
        assert len(audit) == 1 and audit[0]["user_key"] == answer["user_key"]
        secret = (home / SECRET_FILE).read_text().strip().encode()
        assert answer["user_key"] == user_key(secret, GONE)
        assert GONE not in {str(v) for v in audit[0].values()}

        # the live models: the id no longer resolves, their state is empty, and the lists
        # are a stranger's (popular items), no longer built from their history
        for name in ("als", "sasrec"):
            model = ctx.hub.get(name).model
            assert GONE not in model.user_map
        als = ctx.hub.get("als").model
        old = load_model(trained / "als" / "1")
        row = old.user_map.index_of(GONE)
        assert als.history_[row].nnz == 0 and not als.user_factors_[row].any()
        assert old.history_[row].nnz > 0 and old.user_factors_[row].any()  # the file's copy
        seq = ctx.hub.get("sasrec").model
        assert seq.seq_offsets_[row + 1] == seq.seq_offsets_[row]
        after = client.get(f"/v1/users/{GONE}/recommendations?model=als", headers=AUTH).json()
        assert after["cold_start"] is True
        stranger = client.get("/v1/users/nobody/recommendations?model=als", headers=AUTH).json()
        assert [i["item_id"] for i in after["items"]] == [i["item_id"] for i in stranger["items"]]
        # the cold-start popularity no longer counts them either
        theirs = old.history_[row].indices
        assert np.array_equal(ctx.hub.get("als").popularity[theirs], popularity[theirs] - 1)
        assert (
            client.get("/v1/users/8/recommendations?model=als", headers=AUTH).json()["cold_start"]
            is False
        )

    # a restart loads the versions from disk and forgets the user on load
    with TestClient(create_app(settings)) as client:
        assert GONE not in client.app.state.ctx.hub.get("sasrec").model.user_map
        again = client.get(f"/v1/users/{GONE}/recommendations?model=sasrec", headers=AUTH).json()
        assert again["cold_start"] is True
        # events sent again under the same id are kept (the user came back) ...
        body = {"events": events_of(GONE, ["5"])}
        assert client.post("/v1/events", json=body, headers=AUTH).json()["new"] == 1

    # ... but the next model learns nothing of them, not even from the original log
    code, _, err = lmrec("train", "als", "--from-store", db_url, "--registry", trained,
                         "--register", "als", "--out", home / "als-2")  # fmt: skip
    assert code == 0, err
    log_rows = int((pd.read_csv(home / "log.csv", dtype=str)["user_id"] == GONE).sum())
    assert f"{log_rows + 1:,} rows of forgotten users left out" in err
    retrained = load_model(home / "als-2")
    assert GONE not in retrained.user_map and "8" in retrained.user_map
    assert retrained.n_users == old.n_users - 1


def test_forget_from_the_command_line(trained: Path, home: Path, db_url: str) -> None:
    store = EventStore(db_url)
    rows = [{**e, "value": None, "timestamp": 1_700_000_000}
            for e in events_of(GONE, ["1", "2"]) + events_of("8", ["1"])]  # fmt: skip
    store.add_events(rows)
    store.close()
    code, out, err = lmrec("users", "forget", GONE, "--db", db_url)
    assert code == 0, err
    assert "deleted 2 events and 0 served-list rows" in out
    code, out, _ = lmrec("users", "forgotten", "--db", db_url)
    secret = (home / SECRET_FILE).read_text().strip().encode()
    assert code == 0 and "forgotten users" in out and user_key(secret, GONE)[:16] in out
    store = EventStore(db_url)
    assert set(store.events_frame()["user_id"]) == {"8"}
    store.close()
    # a service started now forgets the user in every model it loads
    with TestClient(create_app(make_settings(trained, db_url, default_model="als"))) as client:
        for name in ("als", "sasrec"):
            assert GONE not in client.app.state.ctx.hub.get(name).model.user_map
        r = client.get(f"/v1/users/{GONE}/recommendations", headers=AUTH)
        assert r.json()["cold_start"] is True


def test_a_running_service_follows_a_forget_from_the_command_line(
    trained: Path, home: Path, db_url: str
) -> None:
    settings = make_settings(trained, db_url, default_model="als")
    with TestClient(create_app(settings)) as client:
        ctx = client.app.state.ctx
        assert GONE in ctx.hub.get("als").model.user_map
        assert lmrec("users", "forget", GONE, "--db", db_url)[0] == 0
        ctx.apply_forgotten()  # what the registry poll runs every few seconds
        assert GONE not in ctx.hub.get("als").model.user_map
        vectors = ctx.hub.get("als").model.user_factors_
        assert np.count_nonzero(~vectors.any(axis=1)) == 1


def test_a_store_forgotten_with_another_secret_is_refused(
    trained: Path, home: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert lmrec("users", "forget", GONE, "--db", db_url)[0] == 0
    monkeypatch.setenv("LMREC_ID_SECRET", "another-secret-0123456789")
    code, _, err = lmrec("users", "forget", "8", "--db", db_url)
    assert code == 2 and "recorded with another id secret" in err and "LMREC_ID_SECRET" in err
    assert ModelRegistry(trained).live_version("als") == "1"
