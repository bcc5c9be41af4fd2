"""The learning exploration policy's counts in memory: looks and clicks per item of a
model version (kept by the event store, lmrec.events.bandit_counts), read again when the
copy is older than `LMREC_BANDIT_REFRESH_SECONDS`, so a draw costs dictionary lookups and
every server sharing the store follows the others' lists and clicks within that time."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lmrec.events.store import EventStore


@dataclass(frozen=True)
class VersionCounts:
    read_at: float
    items: dict[str, tuple[int, int]]
    total_looks: float
    total_clicks: float


@dataclass(frozen=True)
class CandidateCounts:
    """Looks and clicks of each candidate (in the candidates' order), and the version's
    totals over every item."""

    looks: np.ndarray
    clicks: np.ndarray
    total_looks: float
    total_clicks: float


class BanditCounts:
    def __init__(self, store: EventStore, refresh_seconds: float) -> None:
        self.store = store
        self.refresh_seconds = refresh_seconds
        self._versions: dict[tuple[str, str], VersionCounts] = {}
        self._reading = threading.Lock()

    def for_items(self, model: str, version: str, item_ids: Sequence[str]) -> CandidateCounts:
        table = self._table(model, version)
        pairs = [table.items.get(i, (0, 0)) for i in item_ids]
        counts = np.array(pairs, dtype=np.float64).reshape(len(pairs), 2)
        return CandidateCounts(counts[:, 0], counts[:, 1], table.total_looks, table.total_clicks)

    def _table(self, model: str, version: str) -> VersionCounts:
        key = (model, version)
        cached = self._versions.get(key)
        if cached is not None and time.monotonic() - cached.read_at < self.refresh_seconds:
            return cached
        # one thread reads; the others keep drawing from the copy they have
        if not self._reading.acquire(blocking=cached is None):
            assert cached is not None
            return cached
        try:
            items = self.store.bandit_counts(model, version)
            looks = sum(n for n, _ in items.values())
            clicks = sum(c for _, c in items.values())
            table = VersionCounts(time.monotonic(), items, float(looks), float(clicks))
            # a promotion replaces the version: older ones of the model are not drawn again
            for old in [k for k in self._versions if k[0] == model and k != key]:
                del self._versions[old]
            self._versions[key] = table
            return table
        finally:
            self._reading.release()
