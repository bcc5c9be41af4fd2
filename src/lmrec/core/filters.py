"""Attribute filters over an item table, precomputed per column.

A filter maps an attribute (column) to allowed values; matching is case-insensitive and a
cell holding several values separated by '|' (genres) matches when any does. Each column
is split and encoded once, on first use, so a request costs one `isin` over integer codes
instead of string work over the whole catalogue. Models and the service share this one
implementation.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from lmrec.errors import UnknownIdError


class ItemFilter:
    """Masks of the items whose attributes match a request's filters."""

    def __init__(self, items: pd.DataFrame | None, n_items: int) -> None:
        self.items = items
        self.n_items = n_items
        self._columns: dict[str, tuple[np.ndarray, np.ndarray, dict[str, int]]] = {}
        self._lock = threading.Lock()

    @property
    def columns(self) -> list[str]:
        return [] if self.items is None else [str(c) for c in self.items.columns]

    def mask(self, filters: Mapping[str, Sequence[Any]]) -> np.ndarray:
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
