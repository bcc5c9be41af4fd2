"""The event store: behaviour events, catalogue additions and served recommendations in
SQLite (a file, WAL mode, synchronous=FULL) or PostgreSQL (psycopg 3), one SQLAlchemy code
path for both.

Writes are idempotent by `event_id` (INSERT ... ON CONFLICT DO NOTHING) and return only
after the commit, so an acknowledged event survives a crash and a retried batch is never
counted twice.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine, create_engine, event, func, inspect, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

from lmrec.core.ids import control_character, id_problem
from lmrec.core.pseudonyms import id_secret, secret_id
from lmrec.data.dataset import Dataset, from_frame
from lmrec.errors import ConfigError, DataError
from lmrec.events.bandit_counts import read_counts, record_rewards, record_served
from lmrec.events.forgetting import ForgottenUsers
from lmrec.events.schema import (
    ADDED_COLUMNS,
    events,
    forgotten,
    items,
    metadata,
    served,
    served_users,
)

_CHUNK = 500  # rows per INSERT statement (well under both databases' parameter limits)
# Runs on every recommendation request, so it goes to the driver as plain SQL: SQLAlchemy's
# statement compilation costs more than SQLite's own work here. Both drivers take
# positional parameters in their own style.
_HISTORY_SQL = (
    'SELECT item_id FROM lmrec_events WHERE user_id = {p} ORDER BY "timestamp" DESC, id DESC '
    "LIMIT {p}"
)
_SERVED_SQL = (
    "INSERT INTO lmrec_served "
    "(request_id, item_id, rank, model, version, served_at, policy, propensity, arm, user_id) "
    "VALUES ({values}) ON CONFLICT DO NOTHING"
)
_SERVED_USERS_SQL = (
    "INSERT INTO lmrec_served_users (request_id, user_key) VALUES ({values}) ON CONFLICT DO NOTHING"
)
#: (request_id, item_id, rank, model, version, served_at, policy, propensity, arm, user_id)
ServedRow = tuple[str, str, int, str, str, float, str, float, str | None, str | None]


def normalize_url(url: str | Path) -> str:
    """A SQLAlchemy URL: postgresql:// goes through psycopg 3; a bare path is a SQLite file."""
    text = str(url)
    for prefix in ("postgresql://", "postgres://"):
        if text.startswith(prefix):
            return "postgresql+psycopg://" + text[len(prefix) :]
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    if text.startswith(("sqlite://", "postgresql+psycopg://")):
        return text
    raise ConfigError(
        f"unsupported database URL {redact(text)!r}: use sqlite:///PATH or postgresql://..."
    )


def redact(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "<unparseable URL>"


class EventStore:
    """Read and write the service's tables through one SQLAlchemy engine."""

    def __init__(self, url: str | Path, *, create: bool = True) -> None:
        self.url = normalize_url(url)
        self.engine = _make_engine(self.url)
        # Served lists are analytics, not acknowledged writes: on SQLite they skip the
        # fsync per commit, which would otherwise stall the history reads beside them.
        self.log_engine = (
            _make_engine(self.url, durable=False) if self.url.startswith("sqlite") else self.engine
        )
        self.dialect = self.engine.dialect.name
        mark = "?" if self.dialect == "sqlite" else "%s"
        self._history_sql = _HISTORY_SQL.format(p=mark)
        self._served_sql = _SERVED_SQL.format(values=", ".join([mark] * 10))
        self._served_users_sql = _SERVED_USERS_SQL.format(values=", ".join([mark] * 2))
        if create:
            try:
                metadata.create_all(self.engine)
                self._add_missing_columns()
                # a store made before the index existed gets it too
                for index in served.indexes:
                    index.create(self.engine, checkfirst=True)
            except SQLAlchemyError as exc:
                self.engine.dispose()
                raise ConfigError(
                    f"cannot open the event store at {redact(self.url)}: {_reason(exc)}"
                ) from None

    def _add_missing_columns(self) -> None:
        """Columns added in later versions, on tables an older version created."""
        inspector = inspect(self.engine)
        for table, columns in ADDED_COLUMNS.items():
            present = {c["name"] for c in inspector.get_columns(table)}
            with self.engine.begin() as conn:
                for name, sql_type in columns:
                    if name not in present:
                        conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {name} {sql_type}")

    def close(self) -> None:
        self.engine.dispose()
        self.log_engine.dispose()

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(select(1))

    def _insert(self, table: Any) -> Any:
        return (postgresql if self.dialect == "postgresql" else sqlite).insert(table)

    # ---- events ----------------------------------------------------------------------------
    def add_events(self, rows: Sequence[dict[str, Any]]) -> int:
        """Store events (dicts with the events table's columns); returns how many were new.
        Events whose event_id is already stored are skipped; all rows commit together."""
        if not rows:
            return 0
        _check_ids(rows, ("event_id", "user_id", "item_id", "request_id"))
        now = time.time()
        rows = [{**r, "received_at": now} for r in rows]
        new: set[str] = set()
        with self.engine.begin() as conn:
            for start in range(0, len(rows), _CHUNK):
                stmt = (
                    self._insert(events)
                    .values(rows[start : start + _CHUNK])
                    .on_conflict_do_nothing(index_elements=["event_id"])
                    .returning(events.c.event_id)
                )
                new.update(conn.execute(stmt).scalars())
            # clicks on lists a learning policy drew update its counts in this transaction
            record_rewards(conn, self._insert, [r for r in rows if r["event_id"] in new])
        return len(new)

    def user_history(self, user_id: str, limit: int = 500) -> list[str]:
        """The user's most recent `limit` item ids, oldest first."""
        if control_character(user_id):  # no stored id holds one (PostgreSQL cannot even
            return []  # compare with a NUL)
        with self.engine.connect() as conn:
            rows = conn.exec_driver_sql(self._history_sql, (user_id, limit)).all()
        return [row[0] for row in reversed(rows)]

    def count_events(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(events)).scalar_one())

    def events_frame(self, types: Iterable[str] | None = None) -> pd.DataFrame:
        stmt = select(
            events.c.event_id,
            events.c.user_id,
            events.c.item_id,
            events.c.type,
            events.c.value,
            events.c.timestamp,
            events.c.request_id,
        ).order_by(events.c.id)
        if types is not None:
            stmt = stmt.where(events.c.type.in_(list(types)))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        cols = ["event_id", "user_id", "item_id", "type", "value", "timestamp", "request_id"]
        return pd.DataFrame(rows, columns=cols)

    # ---- catalogue -------------------------------------------------------------------------
    def upsert_items(self, rows: Sequence[dict[str, Any]]) -> tuple[list[str], list[str]]:
        """Insert or replace items ({item_id, text, attributes}); returns (created, updated)."""
        _check_ids(rows, ("item_id",))
        for n, row in enumerate(rows):
            if "\x00" in (row.get("text") or ""):
                raise DataError(
                    "the text holds a NUL character, which cannot be stored",
                    line=n + 1,
                    field="text",
                )
        ids = [r["item_id"] for r in rows]
        now = time.time()
        values = [
            {
                "item_id": r["item_id"],
                "text": r.get("text"),
                "attributes": json.dumps(r.get("attributes") or {}, sort_keys=True),
                "updated_at": now,
            }
            for r in rows
        ]
        with self.engine.begin() as conn:
            existing = set(
                conn.execute(select(items.c.item_id).where(items.c.item_id.in_(ids))).scalars()
            )
            for start in range(0, len(values), _CHUNK):
                stmt = self._insert(items).values(values[start : start + _CHUNK])
                stmt = stmt.on_conflict_do_update(
                    index_elements=["item_id"],
                    set_={
                        "text": stmt.excluded.text,
                        "attributes": stmt.excluded.attributes,
                        "updated_at": stmt.excluded.updated_at,
                    },
                )
                conn.execute(stmt)
        created = [i for i in dict.fromkeys(ids) if i not in existing]
        updated = [i for i in dict.fromkeys(ids) if i in existing]
        return created, updated

    def known_items(self, ids: Iterable[str]) -> set[str]:
        wanted = [i for i in dict.fromkeys(ids) if not control_character(i)]
        if not wanted:
            return set()
        with self.engine.connect() as conn:
            stmt = select(items.c.item_id).where(items.c.item_id.in_(wanted))
            return set(conn.execute(stmt).scalars())

    def item_row(self, item_id: str) -> dict[str, Any] | None:
        """One stored catalogue item as {item_id, text, attributes}, or None."""
        if control_character(item_id):
            return None
        stmt = select(items.c.text, items.c.attributes).where(items.c.item_id == item_id)
        with self.engine.connect() as conn:
            row = conn.execute(stmt).first()
        if row is None:
            return None
        return {"item_id": item_id, "text": row[0], "attributes": json.loads(row[1] or "{}")}

    def items_frame(self) -> pd.DataFrame:
        """Catalogue items: item_id, text and one column per attribute (lists joined by
        '|', the convention of item tables)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(items.c.item_id, items.c.text, items.c.attributes).order_by(
                    items.c.updated_at, items.c.item_id
                )
            ).all()
        records = []
        for item_id, text, attrs in rows:
            rec: dict[str, Any] = {"item_id": item_id, "text": text}
            for key, value in json.loads(attrs or "{}").items():
                rec[key] = "|".join(map(str, value)) if isinstance(value, list) else value
            records.append(rec)
        return pd.DataFrame(records, columns=None if records else ["item_id", "text"])

    def count_items(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(items)).scalar_one())

    # ---- served recommendations ------------------------------------------------------------
    def log_served(self, rows: Sequence[ServedRow], owners: Sequence[tuple[str, str]] = ()) -> None:
        """Record shown items as (request_id, item_id, rank, model, version, served_at,
        policy, propensity, arm, user_id), and who asked as (request_id, keyed hash of the
        user id: served lists are deleted with their user through it). Rows of lists a
        learning policy drew add to its looks and clicks in the same commit."""
        if not rows and not owners:
            return
        # Plain driver executemany: the driver loops in C. SQLAlchemy's per-row parameter
        # processing would hold the GIL for a long while and stall request threads.
        with self.log_engine.connect() as conn:
            if rows:
                conn.exec_driver_sql(self._served_sql, list(rows))
                record_served(conn, self._insert, rows)  # looks of a learning policy's lists
            if owners:
                conn.exec_driver_sql(self._served_users_sql, list(owners))
            conn.commit()

    def prune_served(self, older_than: float | None = None, keep: int | None = None) -> int:
        """Delete served-log rows served before `older_than` (seconds since the epoch),
        then the oldest beyond the newest `keep`; returns how many were deleted. Events
        are never touched: the served log is analytics and may be thinned."""
        deleted = 0
        with self.log_engine.begin() as conn:
            if older_than is not None:
                stmt = served.delete().where(served.c.served_at < older_than)
                deleted += conn.execute(stmt).rowcount or 0
            if keep is not None:
                # the served_at of the keep-th newest row; everything older goes
                edge = conn.execute(
                    select(served.c.served_at)
                    .order_by(served.c.served_at.desc())
                    .offset(keep)
                    .limit(1)
                ).scalar_one_or_none()
                if edge is not None:
                    stmt = served.delete().where(served.c.served_at <= edge)
                    deleted += conn.execute(stmt).rowcount or 0
        return deleted

    def bandit_counts(self, model: str, version: str) -> dict[str, tuple[int, int]]:
        """item_id -> (looks, clicks) that the learning exploration policy has counted for
        one model version (lmrec.events.bandit_counts)."""
        with self.engine.connect() as conn:
            return read_counts(conn, model, version)

    def count_served(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(served)).scalar_one())

    def click_through(self) -> tuple[int, int]:
        """(items shown in served recommendations, distinct clicks on shown items)."""
        clicked = _clicked_shown().subquery()
        with self.engine.connect() as conn:
            shown = conn.execute(select(func.count()).select_from(served)).scalar_one()
            clicks = conn.execute(select(func.count()).select_from(clicked)).scalar_one()
        return int(shown), int(clicks)

    def click_through_by_arm(self) -> dict[str, tuple[int, int]]:
        """arm -> (items shown to the arm's users, distinct clicks on them), for the served
        rows of an A/B split."""
        clicked = _clicked_shown().add_columns(served.c.arm).subquery()
        shown_q = (
            select(served.c.arm, func.count())
            .where(served.c.arm.is_not(None))
            .group_by(served.c.arm)
        )
        clicks_q = (
            select(clicked.c.arm, func.count())
            .where(clicked.c.arm.is_not(None))
            .group_by(clicked.c.arm)
        )
        with self.engine.connect() as conn:
            shown = {arm: int(n) for arm, n in conn.execute(shown_q).all()}
            clicks = {arm: int(n) for arm, n in conn.execute(clicks_q).all()}
        return {arm: (n, clicks.get(arm, 0)) for arm, n in sorted(shown.items())}

    def served_with_rewards(
        self, model: str | None = None, reward_types: Sequence[str] = ("click", "purchase")
    ) -> pd.DataFrame:
        """Every served row (request_id, item_id, rank, model, version, served_at, policy,
        propensity) with `reward` 1 when an event of `reward_types` names its request and
        item, else 0; only `model`'s rows when given."""
        rewarded = (
            select(events.c.request_id, events.c.item_id)
            .where(events.c.type.in_(list(reward_types)))
            .where(events.c.request_id.is_not(None))
            .distinct()
            .subquery()
        )
        query = select(
            *served.c,
            (rewarded.c.item_id.is_not(None)).label("reward"),
        ).outerjoin(
            rewarded,
            (served.c.request_id == rewarded.c.request_id)
            & (served.c.item_id == rewarded.c.item_id),
        )
        if model is not None:
            query = query.where(served.c.model == model)
        with self.engine.connect() as conn:
            frame = pd.DataFrame(conn.execute(query.order_by(served.c.request_id, served.c.rank)))
        if frame.empty:
            frame = pd.DataFrame(columns=[*served.c.keys(), "reward"])
        frame["reward"] = frame["reward"].astype(float)
        return frame

    # ---- forgetting users ------------------------------------------------------------------
    def forget_user(self, user_id: str, user_key: str, secret_id: str) -> dict[str, int]:
        """Delete a user's events and the served lists they asked for or acted on, and
        record the deletion (keyed hash only) in the audit table, in one transaction."""
        with self.engine.begin() as conn:
            acted_on = select(events.c.request_id).where(
                (events.c.user_id == user_id) & events.c.request_id.is_not(None)
            )
            asked = select(served_users.c.request_id).where(served_users.c.user_key == user_key)
            named = select(served.c.request_id).where(served.c.user_id == user_id).distinct()
            requests = set(conn.execute(acted_on).scalars()) | set(conn.execute(asked).scalars())
            requests |= set(conn.execute(named).scalars())
            served_deleted = 0
            ids = sorted(requests)
            for start in range(0, len(ids), _CHUNK):
                chunk = ids[start : start + _CHUNK]
                served_deleted += conn.execute(
                    served.delete().where(served.c.request_id.in_(chunk))
                ).rowcount
            conn.execute(served_users.delete().where(served_users.c.user_key == user_key))
            events_deleted = conn.execute(
                events.delete().where(events.c.user_id == user_id)
            ).rowcount
            conn.execute(
                forgotten.insert().values(
                    user_key=user_key,
                    secret_id=secret_id,
                    forgotten_at=time.time(),
                    events_deleted=events_deleted,
                    served_deleted=served_deleted,
                )
            )
        return {"events_deleted": events_deleted, "served_deleted": served_deleted}

    def forgotten_keys(self, secret_id: str) -> set[str]:
        """Keyed hashes of every forgotten user; refuses a list made with another secret
        (its hashes could not be matched, and forgotten users would come back)."""
        with self.engine.connect() as conn:
            others = conn.execute(
                select(forgotten.c.secret_id).where(forgotten.c.secret_id != secret_id).limit(1)
            ).first()
            if others is not None:
                raise ConfigError(
                    f"the forgotten users in {redact(self.url)} were recorded with another id "
                    f"secret (id {others[0]}, this one is {secret_id}): set LMREC_ID_SECRET "
                    "(or HOME/id-secret) to the secret of the service that forgot them"
                )
            return set(conn.execute(select(forgotten.c.user_key).distinct()).scalars())

    def count_forgotten(self) -> int:
        """Rows of the audit table (a cheap check for new deletions)."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(forgotten)).scalar_one())

    def forget_log(self) -> pd.DataFrame:
        """The audit table, oldest first."""
        stmt = select(
            forgotten.c.user_key,
            forgotten.c.forgotten_at,
            forgotten.c.events_deleted,
            forgotten.c.served_deleted,
        ).order_by(forgotten.c.id)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return pd.DataFrame(
            rows, columns=["user_key", "forgotten_at", "events_deleted", "served_deleted"]
        )


def _clicked_shown() -> Any:
    """Distinct (request, item) clicks on items a served list showed."""
    return (
        select(events.c.request_id, events.c.item_id)
        .join(
            served,
            (served.c.request_id == events.c.request_id) & (served.c.item_id == events.c.item_id),
        )
        .where(events.c.type == "click")
        .distinct()
    )


def events_to_dataset(
    url: str | Path,
    *,
    types: Iterable[str] | None = None,
    name: str = "event-store",
    secret: bytes | None = None,
) -> Dataset:
    """A Dataset of the stored events (value: the event's value, 1.0 when it has none),
    with the catalogue items added through the API as its item table. Events of forgotten
    users (sent again after they were forgotten) are left out; `secret` is the id secret
    that matches them (default: lmrec.core.pseudonyms.id_secret())."""
    df, catalogue, gone = stored_events(url, types=types, secret=secret)
    if df.empty:
        which = f" of types {sorted(types)}" if types is not None else ""
        left_out = f" ({gone.dropped:,} of forgotten users left out)" if gone.dropped else ""
        raise DataError(
            f"the event store at {redact(normalize_url(url))} holds no events{which}"
            f"{left_out}; send some to POST /v1/events first"
        )
    return from_frame(df, items=catalogue if len(catalogue) else None, name=name)


def stored_events(
    url: str | Path, *, types: Iterable[str] | None = None, secret: bytes | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, ForgottenUsers]:
    """(events as user_id, item_id, value, timestamp without the forgotten users' rows,
    the stored catalogue, the forgotten users: to leave out of other data too)."""
    store = EventStore(url, create=False)
    try:
        frame = store.events_frame(types)
        catalogue = store.items_frame()
        gone = forgotten_users(store, secret)
    except SQLAlchemyError as exc:
        raise ConfigError(f"cannot read events from {redact(store.url)}: {_reason(exc)}") from None
    finally:
        store.close()
    df = pd.DataFrame(
        {
            "user_id": frame["user_id"].astype(str),
            "item_id": frame["item_id"].astype(str),
            "value": frame["value"].astype("float64").fillna(1.0),
            "timestamp": frame["timestamp"].astype("int64"),
        }
    )
    return gone.drop_from(df), catalogue, gone


def forgotten_users(store: EventStore, secret: bytes | None = None) -> ForgottenUsers:
    """The store's forgotten users, to match with `secret` (default: id_secret())."""
    if not store.count_forgotten():
        return ForgottenUsers(set(), secret)
    secret = secret or id_secret()
    return ForgottenUsers(store.forgotten_keys(secret_id(secret)), secret)


def _check_ids(rows: Sequence[dict[str, Any]], fields: Sequence[str]) -> None:
    """The id rule of lmrec.core.ids, applied here too so that SQLite and PostgreSQL
    refuse the same rows (PostgreSQL alone would fail on NUL, with a database error)."""
    for n, row in enumerate(rows):
        for name in fields:
            value = row.get(name)
            problem = id_problem(value) if isinstance(value, str) else None
            if problem:
                raise DataError(problem, line=n + 1, field=name)


def _make_engine(url: str, durable: bool = True) -> Engine:
    try:
        if url.startswith("sqlite"):
            database = make_url(url).database
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
            event.listen(engine, "connect", _sqlite_durable if durable else _sqlite_fast)
            return engine
        return create_engine(url, pool_pre_ping=True, pool_size=8, max_overflow=8)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise ConfigError(f"cannot use database URL {redact(url)!r}: {exc}") from None


def _sqlite_durable(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers run beside the writer; synchronous=FULL fsyncs every commit, so an
    # acknowledged write survives power loss, not only a process crash.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=FULL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _sqlite_fast(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: consistent, not fsynced
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def _reason(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
