"""Tiny sequence data with provable answers, shared by the sequence model tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lmrec.data.dataset import Dataset, from_frame


def cycle_data(n_users: int = 40, n_items: int = 6, max_length: int = 9) -> Dataset:
    """Every user walks the same cycle i0 -> i1 -> ... -> i5 -> i0 from a different
    start for 3..max_length steps, so the item after [i0, i1, i2] is always i3."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(n_users):
        start, length = int(rng.integers(n_items)), int(rng.integers(3, max_length + 1))
        rows += [(f"u{u}", f"i{(start + t) % n_items}", 100 + t) for t in range(length)]
    return from_frame(pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]))


def with_vectors(data: Dataset, dim: int = 8, extra: dict[str, str] | None = None) -> Dataset:
    """Item table with a precomputed vector per item (its own random direction); `extra`
    adds catalogue-only items that copy another item's vector (same "text")."""
    rng = np.random.default_rng(1)
    ids = list(data.item_map.ids)
    vectors = {i: rng.normal(size=dim).astype(np.float32) for i in ids}
    for new, twin in (extra or {}).items():
        vectors[new] = vectors[twin]
    items = pd.DataFrame({"item_id": list(vectors), "vec": list(vectors.values())})
    return from_frame(data.to_frame(), items=items)


def next_after(model: Any, history: list[str]) -> str:
    scores = model.score_sequences([model.item_map.lookup(history)])[0]
    return str(model.item_map.ids[int(np.nanargmax(scores))])


def repeat_data(repeats: bool, n_users: int = 60, n_items: int = 30, length: int = 8) -> Dataset:
    """Either every user's next item is one they have had before (they alternate between
    two items) or never is (distinct random items, as with films)."""
    rng = np.random.default_rng(2)
    rows = []
    for u in range(n_users):
        if repeats:
            pair = rng.choice(n_items, 2, replace=False)
            items = [pair[t % 2] for t in range(length)]
        else:
            items = list(rng.choice(n_items, length, replace=False))
        rows += [(f"u{u}", f"i{i}", 100 + t) for t, i in enumerate(items)]
    return from_frame(pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]))
