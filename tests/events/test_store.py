"""The event store on SQLite and PostgreSQL: idempotent writes, history, catalogue,
served lists, and loading everything back as a Dataset."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from lmrec.errors import ConfigError, DataError
from lmrec.events.store import EventStore, events_to_dataset, normalize_url


def _pg_reason() -> str | None:
    try:
        import psycopg

        with psycopg.connect("host=127.0.0.1 dbname=test user=postgres", connect_timeout=3):
            return None
    except Exception as exc:
        return f"PostgreSQL at 127.0.0.1:5432/test not reachable: {exc}"


@pytest.fixture(params=["sqlite", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    reason = _pg_reason()
    if reason:
        pytest.skip(reason)
    import psycopg

    schema = f"lmrec_store_{uuid.uuid4().hex[:12]}"
    with psycopg.connect("host=127.0.0.1 dbname=test user=postgres", autocommit=True) as c:
        c.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/test?options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect("host=127.0.0.1 dbname=test user=postgres", autocommit=True) as c:
            c.execute(f'DROP SCHEMA "{schema}" CASCADE')


def ev(eid: str, user: str, item: str, ts: int, value: float | None = None) -> dict:
    return {"event_id": eid, "user_id": user, "item_id": item, "type": "click",
            "value": value, "timestamp": ts, "request_id": None}  # fmt: skip


@pytest.fixture
def store(url: str) -> Iterator[EventStore]:
    s = EventStore(url)
    yield s
    s.close()


def test_add_events_counts_only_new_ones(store: EventStore) -> None:
    rows = [ev(f"e{i}", "u", f"i{i}", i) for i in range(1200)]  # more than one INSERT chunk
    assert store.add_events(rows) == 1200
    assert store.add_events([*rows[:10], ev("fresh", "u", "i0", 5)]) == 1
    assert store.count_events() == 1201
    assert store.add_events([]) == 0


def test_user_history_is_most_recent_oldest_first(store: EventStore) -> None:
    store.add_events([ev("a", "u", "i1", 30), ev("b", "u", "i2", 10), ev("c", "u", "i3", 20),
                      ev("d", "v", "i9", 5)])  # fmt: skip
    assert store.user_history("u") == ["i2", "i3", "i1"]
    assert store.user_history("u", limit=2) == ["i3", "i1"]
    assert store.user_history("nobody") == []


def test_items_upsert_and_frame(store: EventStore) -> None:
    created, updated = store.upsert_items(
        [{"item_id": "a", "text": "first", "attributes": {"genre": ["x", "y"], "year": 1999}}]
    )
    assert (created, updated) == (["a"], [])
    created, updated = store.upsert_items(
        [{"item_id": "a", "text": "second", "attributes": {"genre": ["z"]}}, {"item_id": "b"}]
    )
    assert (created, updated) == (["b"], ["a"])
    frame = store.items_frame().set_index("item_id")
    assert frame.loc["a", "text"] == "second" and frame.loc["a", "genre"] == "z"
    assert store.known_items(["a", "b", "c"]) == {"a", "b"}
    assert store.count_items() == 2


def test_click_through_counts_clicks_on_shown_items(store: EventStore) -> None:
    rows = [
        ("r1", item, rank, "m", "1", 0.0, "greedy", 1.0, None, "u")
        for rank, item in enumerate("abc", 1)
    ]
    store.log_served(rows)
    store.log_served(
        [("r1", "a", 1, "m", "1", 0.0, "greedy", 1.0, None, "u")]
    )  # twice: counted once
    clicks = [ev("c1", "u", "a", 1), ev("c2", "u", "a", 2), ev("c3", "u", "z", 3)]
    for c in clicks:
        c["request_id"] = "r1"
    store.add_events(clicks)
    assert store.click_through() == (3, 1)


def test_a_store_from_before_propensities_gains_the_columns(url: str) -> None:
    """A served-list table created without the policy and propensity columns (as earlier
    versions did) gets them when the store opens, and keeps its rows."""
    from sqlalchemy import create_engine, text

    old = create_engine(normalize_url(url))
    with old.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE lmrec_served (request_id VARCHAR(64) NOT NULL, item_id "
                "VARCHAR(256) NOT NULL, rank INTEGER NOT NULL, model VARCHAR(64) NOT NULL, "
                "version VARCHAR(16) NOT NULL, served_at FLOAT NOT NULL, "
                "PRIMARY KEY (request_id, item_id))"
            )
        )
        conn.execute(text("INSERT INTO lmrec_served VALUES ('old', 'a', 1, 'm', '1', 0.0)"))
    old.dispose()
    store = EventStore(url)
    store.log_served([("new", "b", 1, "m", "2", 1.0, "epsilon:0.1", 0.905, "m", "u")])
    frame = store.served_with_rewards()
    store.close()
    assert frame["request_id"].tolist() == ["new", "old"]
    assert frame["policy"].tolist()[0] == "epsilon:0.1" and frame["policy"].isna().tolist()[1]
    assert frame["propensity"].tolist()[0] == pytest.approx(0.905)


def test_events_to_dataset(url: str, store: EventStore) -> None:
    store.add_events([ev("1", "u1", "a", 1), ev("2", "u1", "b", 2, 4.0), ev("3", "u2", "a", 3)])
    store.upsert_items([{"item_id": "c", "text": "never seen", "attributes": {"genre": "g"}}])
    ds = events_to_dataset(url)
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (2, 3, 3)
    frame = ds.to_frame().sort_values("timestamp")
    assert frame["value"].tolist() == [1.0, 4.0, 1.0]
    assert ds.items is not None and ds.items.set_index("item_id").loc["c", "genre"] == "g"
    with pytest.raises(DataError, match="holds no events of types"):
        events_to_dataset(url, types=["purchase"])


def test_sqlite_is_durable_wal(tmp_path: Path) -> None:
    path = tmp_path / "d.db"
    s = EventStore(f"sqlite:///{path}")
    with s.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    s.close()
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_urls(tmp_path: Path) -> None:
    assert normalize_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalize_url(tmp_path / "x.db") == f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises(ConfigError, match="unsupported database URL"):
        normalize_url("mysql://u:secret@h/db")
    with pytest.raises(ConfigError) as info:
        EventStore("postgresql://nobody:secret@127.0.0.1:1/none")
    assert "secret" not in str(info.value) and "cannot open the event store" in str(info.value)


def _reward(eid: str, request: str, item: str, kind: str = "click") -> dict:
    return {**ev(eid, "u", item, 1), "type": kind, "request_id": request}


def test_thompson_lists_count_looks_and_each_clicked_item_once(url: str) -> None:
    """Looks come from served rows of thompson lists, clicks from reward events joined by
    request id, whichever arrives second; greedy lists count nothing; the counts stay."""
    store = EventStore(url)
    listed = [("r1", "a", 1, "m", "1", 0.0, "thompson:2", 0.6, None, "u"),
              ("r1", "b", 2, "m", "1", 0.0, "thompson:2", 0.4, None, "u"),
              ("g1", "a", 1, "m", "1", 0.0, "greedy", 1.0, None, "u")]  # fmt: skip
    store.add_events([_reward("early", "r2", "a")])  # its list is written after the click
    store.log_served([*listed, ("r2", "a", 1, "m", "1", 0.0, "thompson:2", 0.5, None, "u")])
    assert store.bandit_counts("m", "1") == {"a": (2, 1), "b": (1, 0)}
    store.add_events(
        [_reward("c1", "r1", "a"), _reward("c2", "r1", "a"), _reward("c3", "g1", "a")]
    )  # two clicks of one shown item in one batch, one on a greedy list
    store.add_events([_reward("c4", "r1", "a", "purchase"), _reward("c5", "r2", "a")])
    store.add_events([_reward("c1", "r1", "b")])  # an event id sent again: not new
    assert store.bandit_counts("m", "1") == {"a": (2, 2), "b": (1, 0)}
    store.add_events([_reward("c6", "r1", "b", "purchase"), _reward("c7", "r1", "zz")])
    assert store.bandit_counts("m", "1") == {"a": (2, 2), "b": (1, 1)}
    assert store.bandit_counts("m", "2") == {}
    store.close()
    again = EventStore(url)
    assert again.bandit_counts("m", "1") == {"a": (2, 2), "b": (1, 1)}
    again.close()
