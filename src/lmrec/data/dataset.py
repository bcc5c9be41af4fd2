"""The Dataset: interactions as NumPy arrays plus item/user tables and id maps."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property

import numpy as np
import pandas as pd
import scipy.sparse as sp

from lmrec.data.idmap import IdMap

#: line numbers kept per reason, so a user can find the rows without a second pass
MAX_EXAMPLE_LINES = 5


@dataclass
class DropReport:
    """What loading did to the rows it read, so that nothing disappears unseen.

    `counts` holds every row removed from the interactions, by reason; the reasons in
    `merges` are rows combined into another row of the same (user, item) rather than
    discarded (`lossless_merges`: combined without losing their value, as a sum does).
    `examples` keeps the first line numbers of each reason where the reader knows them,
    `rows_read` the data rows of the interaction file (None when not read from a file),
    `notes` how columns were understood (which column gave the values, the time unit)."""

    counts: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[int]] = field(default_factory=dict)
    merges: set[str] = field(default_factory=set)
    lossless_merges: set[str] = field(default_factory=set)
    rows_read: int | None = None
    notes: list[str] = field(default_factory=list)

    def add(
        self,
        reason: str,
        n: int,
        *,
        lines: Sequence[int | None] = (),
        merged: bool = False,
        lossless: bool = False,
    ) -> None:
        if not n:
            return
        self.counts[reason] = self.counts.get(reason, 0) + int(n)
        known = [int(line) for line in lines if line is not None]
        if known:
            kept = self.examples.setdefault(reason, [])
            kept.extend(known[: MAX_EXAMPLE_LINES - len(kept)])
        if merged:
            self.merges.add(reason)
            if lossless:
                self.lossless_merges.add(reason)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    def merge(self, other: DropReport) -> DropReport:
        out = self.copy()
        for reason, n in other.counts.items():
            out.add(
                reason,
                n,
                lines=other.examples.get(reason, ()),
                merged=reason in other.merges,
                lossless=reason in other.lossless_merges,
            )
        for text in other.notes:
            out.note(text)
        if out.rows_read is None:
            out.rows_read = other.rows_read
        return out

    def copy(self) -> DropReport:
        return DropReport(
            dict(self.counts),
            {k: list(v) for k, v in self.examples.items()},
            set(self.merges),
            set(self.lossless_merges),
            self.rows_read,
            list(self.notes),
        )

    @property
    def total(self) -> int:
        """Rows removed from the interactions (merged or dropped)."""
        return sum(self.counts.values())

    @property
    def merged(self) -> dict[str, int]:
        return {r: n for r, n in self.counts.items() if r in self.merges}

    @property
    def discarded(self) -> dict[str, int]:
        """Rows dropped outright (not merged into another row)."""
        return {r: n for r, n in self.counts.items() if r not in self.merges}

    @property
    def lost(self) -> int:
        """Rows whose values are not in the result: dropped, or merged by keeping one."""
        return sum(n for r, n in self.counts.items() if r not in self.lossless_merges)

    def describe(self, reason: str) -> str:
        """'reason: n' with the first line numbers when known."""
        text = f"{reason}: {self.counts[reason]:,}"
        lines = self.examples.get(reason)
        if lines:
            more = ", ..." if self.counts[reason] > len(lines) else ""
            label = "line" if len(lines) == 1 and not more else "lines"
            text += f" ({label} {', '.join(map(str, lines))}{more})"
        return text

    def lines(self) -> list[str]:
        return [self.describe(reason) for reason in sorted(self.counts)]


@dataclass(eq=False)
class Dataset:
    """Interactions (user index, item index, value, timestamp) over a shared catalogue.

    `items` has one row per item index (column `item_id` plus text and attribute
    columns); `users` likewise for users when the data has a user table. Splits of a
    dataset share its id maps and tables, so indices mean the same thing everywhere.
    """

    user_map: IdMap
    item_map: IdMap
    users_idx: np.ndarray  # int32, index into user_map
    items_idx: np.ndarray  # int32, index into item_map
    values: np.ndarray  # float32; 1.0 for implicit data
    timestamps: np.ndarray  # int64 seconds since epoch; 0 when unknown
    items: pd.DataFrame | None = None
    users: pd.DataFrame | None = None
    name: str = "dataset"
    explicit: bool = False  # values are ratings (not just presence)
    dropped: DropReport = field(default_factory=DropReport)

    def __post_init__(self) -> None:
        self.users_idx = np.ascontiguousarray(self.users_idx, dtype=np.int32)
        self.items_idx = np.ascontiguousarray(self.items_idx, dtype=np.int32)
        self.values = np.ascontiguousarray(self.values, dtype=np.float32)
        self.timestamps = np.ascontiguousarray(self.timestamps, dtype=np.int64)
        n = len(self.users_idx)
        if not (len(self.items_idx) == len(self.values) == len(self.timestamps) == n):
            raise ValueError("interaction arrays differ in length")

    # ---- sizes ---------------------------------------------------------------------------
    @property
    def n_users(self) -> int:
        return len(self.user_map)

    @property
    def n_items(self) -> int:
        return len(self.item_map)

    @property
    def n_interactions(self) -> int:
        return len(self.users_idx)

    def __len__(self) -> int:
        return self.n_interactions

    @property
    def has_timestamps(self) -> bool:
        return bool(self.n_interactions) and bool(self.timestamps.any())

    # ---- matrix views --------------------------------------------------------------------
    @cached_property
    def csr(self) -> sp.csr_matrix:
        """User x item matrix of values (duplicates summed), float32."""
        m = sp.csr_matrix(
            (self.values, (self.users_idx, self.items_idx)),
            shape=(self.n_users, self.n_items),
            dtype=np.float32,
        )
        m.sum_duplicates()
        m.sort_indices()
        return m

    @cached_property
    def binary_csr(self) -> sp.csr_matrix:
        """User x item matrix of ones where an interaction exists."""
        m = self.csr.copy()
        m.data = np.ones_like(m.data)
        return m

    def user_counts(self) -> np.ndarray:
        return np.bincount(self.users_idx, minlength=self.n_users)

    def item_counts(self) -> np.ndarray:
        return np.bincount(self.items_idx, minlength=self.n_items)

    def sequences(self) -> list[np.ndarray]:
        """Per-user item indices ordered by time (stable for ties)."""
        order = np.lexsort((np.arange(self.n_interactions), self.timestamps, self.users_idx))
        items = self.items_idx[order]
        bounds = np.searchsorted(self.users_idx[order], np.arange(self.n_users + 1))
        return [items[bounds[u] : bounds[u + 1]] for u in range(self.n_users)]

    # ---- derived datasets ----------------------------------------------------------------
    def subset(self, mask: np.ndarray, name: str | None = None) -> Dataset:
        """Same catalogue and maps, only the interactions where mask is true."""
        return replace(
            self,
            users_idx=self.users_idx[mask],
            items_idx=self.items_idx[mask],
            values=self.values[mask],
            timestamps=self.timestamps[mask],
            name=name or self.name,
        )

    def concat(self, other: Dataset, name: str | None = None) -> Dataset:
        """Interactions of both (they must share maps), e.g. train + validation."""
        if other.item_map is not self.item_map and other.item_map != self.item_map:
            raise ValueError("datasets have different item maps")
        return replace(
            self,
            users_idx=np.concatenate([self.users_idx, other.users_idx]),
            items_idx=np.concatenate([self.items_idx, other.items_idx]),
            values=np.concatenate([self.values, other.values]),
            timestamps=np.concatenate([self.timestamps, other.timestamps]),
            name=name or self.name,
        )

    def to_frame(self) -> pd.DataFrame:
        """Interactions with the user's own ids."""
        return pd.DataFrame(
            {
                "user_id": self.user_map.to_ids(self.users_idx),
                "item_id": self.item_map.to_ids(self.items_idx),
                "value": self.values,
                "timestamp": self.timestamps,
            }
        )

    def fingerprint(self) -> str:
        """Content hash of the interactions and catalogue ids (identifies training data)."""
        h = hashlib.sha256()
        for arr in (self.users_idx, self.items_idx, self.values, self.timestamps):
            h.update(np.ascontiguousarray(arr).tobytes())
        h.update("\n".join(self.item_map.ids.tolist()).encode())
        h.update("\n".join(self.user_map.ids.tolist()).encode())
        return h.hexdigest()[:16]

    def __repr__(self) -> str:
        return (
            f"Dataset({self.name!r}, users={self.n_users}, items={self.n_items}, "
            f"interactions={self.n_interactions})"
        )


def from_frame(
    df: pd.DataFrame,
    *,
    items: pd.DataFrame | None = None,
    users: pd.DataFrame | None = None,
    name: str = "dataset",
    explicit: bool | None = None,
    dropped: DropReport | None = None,
) -> Dataset:
    """Build a Dataset from a frame with columns user_id, item_id[, value, timestamp].

    Items of the catalogue table with no interactions are kept (they can be recommended
    from their text); the item map lists interacted items first, then catalogue-only ones.
    """
    user_map, uidx = IdMap.from_values(df["user_id"].to_numpy(), kind="user")
    item_map, iidx = IdMap.from_values(df["item_id"].to_numpy(), kind="item")
    if items is not None:
        item_map = item_map.extend(items["item_id"].astype(str))
        items = _align_table(items, item_map, "item_id")
    if users is not None:
        user_map = user_map.extend(users["user_id"].astype(str))
        users = _align_table(users, user_map, "user_id")
    values = (
        df["value"].to_numpy(dtype=np.float32)
        if "value" in df
        else np.ones(len(df), dtype=np.float32)
    )
    ts = (
        df["timestamp"].to_numpy(dtype=np.int64)
        if "timestamp" in df
        else np.zeros(len(df), dtype=np.int64)
    )
    if explicit is None:
        explicit = "value" in df and bool(len(values)) and bool((values != 1).any())
    return Dataset(
        user_map=user_map,
        item_map=item_map,
        users_idx=uidx,
        items_idx=iidx,
        values=values,
        timestamps=ts,
        items=items,
        users=users,
        name=name,
        explicit=explicit,
        dropped=dropped or DropReport(),
    )


def _align_table(table: pd.DataFrame, idmap: IdMap, key: str) -> pd.DataFrame:
    """One row per index of idmap, in index order; ids missing from table get empty rows."""
    t = table.copy()
    t[key] = t[key].astype(str)
    t = t.drop_duplicates(key, keep="last").set_index(key)
    t = t.reindex(pd.Index(idmap.ids, name=key)).reset_index()
    return t
