"""Looks and clicks per (model, version, item) for the service's learning exploration
policy (`thompson:L`), kept up to date as lists are served and events arrive, so the
posteriors learn without a retrain and survive a restart.

A look is an item shown in a list the policy drew (its served row, policy `thompson:...`).
A click is a shown item whose request got at least one click or purchase event of that
item, joined by request id as the off-policy evaluation join does; it is counted once,
by whichever write comes second: the served row (the event came first; the service writes
its served log every second) or the first reward event (the list was already written).
Both checks run inside the writing transaction. On SQLite writers take turns, so every
click counts once; on PostgreSQL a list and its click committed at the same instant by
two servers can each miss the other, which loses that click (never counts one twice).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, func, select

from lmrec.events.schema import bandit_counts, events, served

#: served rows whose policy label starts with this feed the counts
LEARNING_POLICY = "thompson"
#: event types that count as a success of the shown item
REWARD_TYPES = ("click", "purchase")
_CHUNK = 500

#: (model, version, item_id)
CountKey = tuple[str, str, str]


def learning_rows(rows: Iterable[Sequence[Any]]) -> list[Sequence[Any]]:
    """Served rows (lmrec.events.store.ServedRow) of lists a learning policy drew."""
    return [r for r in rows if r[6] and str(r[6]).split(":")[0] == LEARNING_POLICY]


def record_served(conn: Connection, insert: Callable[[Any], Any], rows: Sequence[Any]) -> None:
    """Add the looks of freshly written served rows, and a click for each whose reward
    event is already stored."""
    rows = learning_rows(rows)
    if not rows:
        return
    rewarded: set[tuple[str, str]] = set()
    for chunk in _chunks(sorted({r[0] for r in rows})):
        query = (
            select(events.c.request_id, events.c.item_id)
            .where(events.c.request_id.in_(chunk))
            .where(events.c.type.in_(REWARD_TYPES))
        )
        rewarded.update((str(a), str(b)) for a, b in conn.execute(query).all())
    looks = Counter((r[3], r[4], r[1]) for r in rows)
    clicks = Counter((r[3], r[4], r[1]) for r in rows if (r[0], r[1]) in rewarded)
    _add(conn, insert, looks, clicks)


def record_rewards(
    conn: Connection, insert: Callable[[Any], Any], new_events: Sequence[dict[str, Any]]
) -> None:
    """Add a click for each (request, item) whose first reward event just arrived and
    whose served row from a learning policy is already stored."""
    arrived = Counter(
        (str(e["request_id"]), str(e["item_id"]))
        for e in new_events
        if e.get("request_id") and str(e.get("type", "")).lower() in REWARD_TYPES
    )
    if not arrived:
        return
    clicks: Counter[CountKey] = Counter()
    for chunk in _chunks(sorted({request for request, _ in arrived})):
        shown = select(served.c.request_id, served.c.item_id, served.c.model, served.c.version)
        shown = shown.where(served.c.request_id.in_(chunk)).where(
            served.c.policy.like(f"{LEARNING_POLICY}:%")
        )
        totals = (
            select(events.c.request_id, events.c.item_id, func.count())
            .where(events.c.request_id.in_(chunk))
            .where(events.c.type.in_(REWARD_TYPES))
            .group_by(events.c.request_id, events.c.item_id)
        )
        stored = {(str(a), str(b)): int(n) for a, b, n in conn.execute(totals).all()}
        for request, item, model, version in conn.execute(shown).all():
            pair = (str(request), str(item))
            # the first reward of this shown item: every stored one arrived in this batch
            if pair in arrived and stored.get(pair) == arrived[pair]:
                clicks[(model, version, item)] += 1
    _add(conn, insert, Counter(), clicks)


def read_counts(conn: Connection, model: str, version: str) -> dict[str, tuple[int, int]]:
    """item_id -> (looks, clicks) of one model version."""
    query = select(bandit_counts.c.item_id, bandit_counts.c.looks, bandit_counts.c.clicks).where(
        (bandit_counts.c.model == model) & (bandit_counts.c.version == version)
    )
    return {str(i): (int(n), int(c)) for i, n, c in conn.execute(query).all()}


def _add(
    conn: Connection,
    insert: Callable[[Any], Any],
    looks: Counter[CountKey],
    clicks: Counter[CountKey],
) -> None:
    # sorted, so concurrent writers lock rows in one order (no deadlock on PostgreSQL)
    keys = sorted(looks.keys() | clicks.keys())
    values = [
        {
            "model": m,
            "version": v,
            "item_id": i,
            "looks": looks[(m, v, i)],
            "clicks": clicks[(m, v, i)],
        }
        for m, v, i in keys
    ]
    for start in range(0, len(values), _CHUNK):
        stmt = insert(bandit_counts).values(values[start : start + _CHUNK])
        stmt = stmt.on_conflict_do_update(
            index_elements=["model", "version", "item_id"],
            set_={
                "looks": bandit_counts.c.looks + stmt.excluded.looks,
                "clicks": bandit_counts.c.clicks + stmt.excluded.clicks,
            },
        )
        conn.execute(stmt)


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]
