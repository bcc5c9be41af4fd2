"""Tables of the event store (SQLAlchemy Core; the same code for SQLite and PostgreSQL)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Float,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData()

#: behaviour events; `event_id` is the client's idempotency key
events = Table(
    "lmrec_events",
    metadata,
    # INTEGER in SQLite so the column is the rowid alias and auto-increments
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("event_id", String(128), nullable=False, unique=True),
    Column("user_id", String(256), nullable=False),
    Column("item_id", String(256), nullable=False),
    Column("type", String(32), nullable=False),
    Column("value", Float, nullable=True),
    Column("timestamp", BigInteger, nullable=False),  # seconds since epoch
    Column("request_id", String(64), nullable=True),
    Column("received_at", Float, nullable=False),
    Index("ix_lmrec_events_user", "user_id", "timestamp"),
    Index("ix_lmrec_events_request", "request_id"),
)

#: catalogue items added through the API (text and attributes as JSON)
items = Table(
    "lmrec_items",
    metadata,
    Column("item_id", String(256), primary_key=True),
    Column("text", Text, nullable=True),
    Column("attributes", Text, nullable=False, default="{}"),
    Column("updated_at", Float, nullable=False),
)

#: one row per item shown in a served recommendation (for click-through rates)
served = Table(
    "lmrec_served",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("item_id", String(256), primary_key=True),
    Column("rank", Integer, nullable=False),
    Column("model", String(64), nullable=False),
    Column("version", String(16), nullable=False),
    Column("served_at", Float, nullable=False),
    # how the list was drawn (greedy, epsilon:0.1, softmax:0.5) and the chance of this item
    # at this rank under it; empty in rows written before exploration was logged
    Column("policy", String(32), nullable=True),
    Column("propensity", Float, nullable=True),
    # the A/B arm the user was assigned to (empty outside a test) and the user the list
    # was for: `lmrec ab report` counts users, the unit a split randomises
    Column("arm", String(64), nullable=True),
    Column("user_id", String(256), nullable=True),
    Index("ix_lmrec_served_at", "served_at"),  # retention deletes the oldest rows
)

#: what a learning exploration policy (`thompson:L`) has seen per model version and item:
#: looks (times shown in a list it drew) and clicks (shown items whose request got a
#: click or purchase of them); aggregates only, no user. Rows appear as lists are served.
bandit_counts = Table(
    "lmrec_bandit_counts",
    metadata,
    Column("model", String(64), primary_key=True),
    Column("version", String(16), primary_key=True),
    Column("item_id", String(256), primary_key=True),
    Column("looks", BigInteger, nullable=False),
    Column("clicks", BigInteger, nullable=False),
)

#: columns added to existing tables when a store opens (name, SQL type)
ADDED_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "lmrec_served": [
        ("policy", "VARCHAR(32)"),
        ("propensity", "FLOAT"),
        ("arm", "VARCHAR(64)"),
        ("user_id", "VARCHAR(256)"),
    ],
}

#: who asked for a served list, as a keyed hash of the user id (so a user's served lists
#: can be deleted with them; the raw id is never stored here)
served_users = Table(
    "lmrec_served_users",
    metadata,
    Column("request_id", String(64), primary_key=True),
    Column("user_key", String(64), nullable=False),
    Index("ix_lmrec_served_users_key", "user_key"),
)

#: the audit log of deletions: one row per request to forget a user, holding no data of
#: theirs, only the keyed hash of the id (lmrec.core.pseudonyms), which secret made it,
#: when, and how much was deleted. Retraining from the store leaves these users out.
forgotten = Table(
    "lmrec_forgotten",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True),
    Column("user_key", String(64), nullable=False),
    Column("secret_id", String(16), nullable=False),
    Column("forgotten_at", Float, nullable=False),
    Column("events_deleted", Integer, nullable=False),
    Column("served_deleted", Integer, nullable=False),
    Index("ix_lmrec_forgotten_key", "user_key"),
)
