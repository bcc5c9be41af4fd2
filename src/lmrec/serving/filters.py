"""Attribute filters over a model's item table, precomputed per column.

Same meaning as `lmrec.models.base.filter_mask` (case-insensitive, a cell holding several
values separated by '|' matches when any does), but each column is split and encoded
once, so a request costs one `isin` over integer codes instead of string work over the
whole catalogue.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from lmrec.errors import UnknownIdError


class AttributeFilter:
    def __init__(self, items: pd.DataFrame | None, n_items: int) -> None:
        self.items = items
        self.n_items = n_items
        self._columns: dict[str, tuple[np.ndarray, np.ndarray, dict[str, int]]] = {}
        self._lock = threading.Lock()

    @property
    def columns(self) -> list[str]:
        return [] if self.items is None else [str(c) for c in self.items.columns]

    def mask(self, filters: dict[str, Sequence[Any]]) -> np.ndarray:
        """Items matching every filter (one of the allowed values per attribute)."""
        if self.items is None:
            raise UnknownIdError("this model has no item table, so it cannot filter by attribute")
        mask = np.ones(self.n_items, dtype=bool)
        for column, allowed in filters.items():
            rows, codes, vocab = self._encoded(column)
            wanted = [vocab[v] for v in {str(a).lower() for a in allowed} if v in vocab]
            hit = np.zeros(self.n_items, dtype=bool)
            hit[rows[np.isin(codes, wanted)]] = True
            mask &= hit
        return mask

    def _encoded(self, column: str) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
        assert self.items is not None
        if column not in self._columns:
            if column not in self.items.columns:
                raise UnknownIdError(
                    f"unknown item attribute '{column}' in filters "
                    f"(known: {', '.join(self.columns)})"
                )
            with self._lock:
                parts = self.items[column].astype(str).str.lower().str.split("|").explode()
                codes, uniques = pd.factorize(parts.to_numpy())
                rows = parts.index.to_numpy(dtype=np.int64)
                keep = rows < self.n_items
                vocab = {str(u): i for i, u in enumerate(uniques)}
                self._columns[column] = (rows[keep], codes[keep], vocab)
        return self._columns[column]


#: an attribute column is one whose values repeat (genre, year); ids and titles do not
_MAX_DISTINCT_SHARE = 0.5


def attribute_columns(items: pd.DataFrame | None) -> list[str]:
    """Columns of an item table that describe shared properties (for explanations)."""
    if items is None or items.empty:
        return []
    n = len(items)
    out = []
    for col in items.columns:
        if col in ("item_id", "text"):
            continue
        values = items[col].dropna().astype(str).str.split("|").explode()
        if len(values) and values.nunique() <= max(20, _MAX_DISTINCT_SHARE * n):
            out.append(str(col))
    return out
