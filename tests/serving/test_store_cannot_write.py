"""When the event store cannot write (a full disk under SQLite, a PostgreSQL that turned
read-only, as a standby does), POST /v1/events answers 503 with Retry-After and stores
nothing of that batch, reads go on, nothing acknowledged before is lost, and writes
resume as soon as the store can write again."""

from __future__ import annotations

import resource
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from live_server import free_port, start_cli_server
from serving_toys import AUTH, KEY, READ_AUTH, make_settings, toy_dataset
from sqlalchemy import select

from lmrec.events.schema import events
from lmrec.events.store import EventStore
from lmrec.models.baseline.popularity import PopularityRecommender
from lmrec.serving.app import create_app
from lmrec.store.registry import ModelRegistry

BATCH = 20
Client = httpx.Client | TestClient


def batch(n: int) -> list[dict[str, Any]]:
    return [
        {"event_id": f"b{n}-{j}", "user_id": f"u{j % 5}", "item_id": f"i{1 + j % 6}",
         "type": "click", "timestamp": 1_700_000_000 + n}
        for j in range(BATCH)
    ]  # fmt: skip


def stored_ids(url: str) -> list[str]:
    store = EventStore(url)
    try:
        with store.engine.connect() as conn:
            return list(conn.execute(select(events.c.event_id)).scalars())
    finally:
        store.close()


def send_until_refused(client: Client, acked: set[str], first: int, limit: int) -> int:
    """Send batches from `first` on until one is refused; returns its number."""
    for n in range(first, limit):
        r = client.post("/v1/events", json=batch(n), headers=AUTH)
        if r.status_code != 200:
            check_refusal(r)
            return n
        acked.update(e["event_id"] for e in batch(n))
    raise AssertionError(f"{limit - first} batches were all stored: the store never refused")


def check_refusal(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert int(r.headers["Retry-After"]) >= 1
    assert "nothing of this request was stored" in r.json()["detail"]


def resume(client: Client, acked: set[str], refused: int) -> None:
    """The refused batch goes through whole once the store can write, and more after it."""
    r = client.post("/v1/events", json=batch(refused), headers=AUTH)
    assert r.status_code == 200, r.text
    assert r.json()["new"] == BATCH  # nothing of it had been stored while refused
    for n in range(refused, refused + 3):
        r = client.post("/v1/events", json=batch(n), headers=AUTH)
        assert r.status_code == 200
        acked.update(e["event_id"] for e in batch(n))


@pytest.fixture
def registry_root(tmp_path: Path) -> Path:
    registry = ModelRegistry(tmp_path / "registry")
    registry.register(PopularityRecommender().fit(toy_dataset()), "pop")
    return registry.root


@pytest.mark.timeout(240)
def test_a_full_disk_under_sqlite(registry_root: Path, tmp_path: Path) -> None:
    db = tmp_path / "events.db"
    url = f"sqlite:///{db}"
    port = free_port()
    log = tmp_path / "server.log"
    server = start_cli_server(registry_root, url, port, KEY, tmp_path, log)
    acked: set[str] = set()
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for n in range(3):
                assert client.post("/v1/events", json=batch(n), headers=AUTH).status_code == 200
                acked.update(e["event_id"] for e in batch(n))
            # The disk fills up: the kernel refuses to grow any file of the server past
            # a little more than the largest one now (RLIMIT_FSIZE: the write into the
            # WAL fails with EFBIG, which SQLite reports as a disk I/O error).
            files = [db, db.with_name("events.db-wal"), log]
            room = max(p.stat().st_size for p in files if p.exists()) + 48 * 1024
            _, hard = resource.prlimit(server.pid, resource.RLIMIT_FSIZE)
            resource.prlimit(server.pid, resource.RLIMIT_FSIZE, (room, hard))
            refused = send_until_refused(client, acked, 3, 2000)
            assert len(acked) >= 3 * BATCH
            check_refusal(client.post("/v1/events", json=batch(refused), headers=AUTH))
            r = client.get("/v1/users/u1/recommendations", headers=AUTH)  # reads go on
            assert r.status_code == 200, r.text
            resource.prlimit(server.pid, resource.RLIMIT_FSIZE, (hard, hard))  # room again
            resume(client, acked, refused)
    finally:
        server.terminate()
        server.wait(timeout=30)
    stored = stored_ids(url)
    assert set(stored) == acked and len(stored) == len(acked)  # none lost, none twice


@pytest.fixture
def pg_role_url(pg_schema_url: str) -> Iterator[tuple[str, str]]:
    """(URL of a login role with the rights the service needs, role name); the schema's
    tables are created by the owner first."""
    import psycopg

    role = f"lmrec_writer_{uuid.uuid4().hex[:10]}"
    schema = pg_schema_url.rsplit("%3D", 1)[1]
    EventStore(pg_schema_url).close()  # the tables exist before the role connects
    admin = "host=127.0.0.1 dbname=test user=postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'GRANT USAGE ON SCHEMA "{schema}" TO "{role}"')
        conn.execute(
            f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO "{role}"'
        )
        conn.execute(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA "{schema}" TO "{role}"')
    try:
        yield pg_schema_url.replace("postgres@", f"{role}@", 1), role
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s",
                (role,),
            )
            conn.execute(f'DROP OWNED BY "{role}"')
            conn.execute(f'DROP ROLE "{role}"')
            # the schema lives for the whole run: the next test starts from empty tables
            conn.execute(
                f'TRUNCATE "{schema}".lmrec_events, "{schema}".lmrec_items, "{schema}".lmrec_served'
            )


def set_read_only(role: str, read_only: bool) -> None:
    """Sessions of `role` become read-only (or writable again), as on a standby: the
    setting holds for new sessions, so the role's open ones are ended."""
    import psycopg

    with psycopg.connect("host=127.0.0.1 dbname=test user=postgres", autocommit=True) as conn:
        if read_only:
            conn.execute(f'ALTER ROLE "{role}" SET default_transaction_read_only = on')
        else:
            conn.execute(f'ALTER ROLE "{role}" RESET default_transaction_read_only')
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,)
        )


@pytest.mark.timeout(240)
def test_a_read_only_postgresql(
    registry_root: Path, tmp_path: Path, pg_role_url: tuple[str, str]
) -> None:
    url, role = pg_role_url
    acked: set[str] = set()
    with TestClient(create_app(make_settings(registry_root, url)), headers=READ_AUTH) as client:
        for n in range(3):
            assert client.post("/v1/events", json=batch(n), headers=AUTH).status_code == 200
            acked.update(e["event_id"] for e in batch(n))
        set_read_only(role, True)
        refused = send_until_refused(client, acked, 3, 10)
        assert refused == 3  # the first write after the switch is refused
        r = client.get("/v1/users/u1/recommendations")  # reads go on
        assert r.status_code == 200, r.text
        set_read_only(role, False)
        resume(client, acked, refused)
    stored = stored_ids(url)
    assert set(stored) == acked and len(stored) == len(acked)
