"""The one request object every model answers: who, what they did, what may be shown."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Query:
    """A recommendation request in the user's own ids.

    user_id: a known user (their training history is used), or None.
    history: item ids the user interacted with (oldest first), for a new user or on top
        of a known user's history (fresh events); models that allow it fold it in.
    candidates: rank only these items. exclude: never return these items.
    filters: item attribute -> allowed values (e.g. {"genre": ["Comedy"]}).
    exclude_seen: drop items already in the user's history from the ranking.
    """

    user_id: Any = None
    history: Sequence[Any] | None = None
    timestamps: Sequence[int] | None = None
    candidates: Sequence[Any] | None = None
    exclude: Sequence[Any] | None = None
    filters: Mapping[str, Sequence[Any]] | None = None
    k: int = 10
    exclude_seen: bool = True
