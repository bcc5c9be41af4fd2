"""Fixtures: a registry of small models, an event store on SQLite and on PostgreSQL, and
the real app behind a TestClient."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from serving_toys import (
    INTERACTIONS,
    ITEMS,
    READ_AUTH,
    ToyMF,
    ToyText,
    make_settings,
    toy_dataset,
)

from lmrec.data.dataset import from_frame
from lmrec.models.baseline.popularity import PopularityRecommender
from lmrec.store.registry import ModelRegistry

PG_BASE = "postgresql://postgres@127.0.0.1:5432/test"


def _pg_unreachable() -> str | None:
    try:
        import psycopg

        with psycopg.connect(
            "host=127.0.0.1 port=5432 dbname=test user=postgres", connect_timeout=3
        ):
            return None
    except Exception as exc:  # any failure to connect means: skip the PostgreSQL variant
        return f"PostgreSQL at 127.0.0.1:5432/test not reachable: {exc}"


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str]:
    """A fresh schema in the test database for this run, dropped afterwards."""
    reason = _pg_unreachable()
    if reason:
        pytest.skip(reason)
    import psycopg

    schema = f"lmrec_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect("host=127.0.0.1 dbname=test user=postgres", autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{PG_BASE}?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect("host=127.0.0.1 dbname=test user=postgres", autocommit=True) as c:
            c.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'events.db'}"
        return
    url = request.getfixturevalue("pg_schema_url")
    yield url
    # each test starts from empty tables
    from sqlalchemy import text

    from lmrec.events.store import EventStore

    store = EventStore(url)
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "TRUNCATE lmrec_events, lmrec_items, lmrec_served, lmrec_served_users, "
                "lmrec_bandit_counts, "
                "lmrec_forgotten"
            )
        )
    store.close()


def second_pop_version():
    """pop trained with extra interactions on i3, so its top item differs from v1's."""
    extra = [("u5", "i3"), ("u6", "i3"), ("u7", "i3")]
    df = pd.DataFrame(INTERACTIONS + extra, columns=["user_id", "item_id"])
    return PopularityRecommender().fit(from_frame(df, items=ITEMS))


@pytest.fixture
def registry_dir(tmp_path: Path) -> Path:
    """pop v1 (live) and v2, toy-mf as 'mf', toy-text as 'text'."""
    reg = ModelRegistry(tmp_path / "registry")
    ds = toy_dataset()
    reg.register(PopularityRecommender().fit(ds), "pop", metrics={"ndcg@10": 0.1})
    reg.register(second_pop_version(), "pop")
    reg.register(ToyMF().fit(ds), "mf")
    reg.register(ToyText().fit(ds), "text")
    return reg.root


@pytest.fixture
def client(registry_dir: Path, db_url: str) -> Iterator[TestClient]:
    """The app with a read key sent by default, as a client reading users' lists sends
    it; a test sending another key (AUTH for writes) replaces it."""
    from lmrec.serving.app import create_app

    with TestClient(create_app(make_settings(registry_dir, db_url)), headers=READ_AUTH) as c:
        yield c


@pytest.fixture
def anonymous(registry_dir: Path, db_url: str) -> Iterator[TestClient]:
    """The app as a client without any key sees it."""
    from lmrec.serving.app import create_app

    with TestClient(create_app(make_settings(registry_dir, db_url))) as c:
        yield c
