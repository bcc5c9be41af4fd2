"""Mapping between a user's own ids and the dense indices models work with."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lmrec.errors import UnknownIdError


class IdMap:
    """External ids (strings) <-> dense indices 0..n-1.

    External ids are kept as strings so that "42" and 42 from different files meet;
    the order of first appearance defines the index.
    """

    def __init__(self, ids: Iterable[Any] = (), kind: str = "item") -> None:
        arr = np.asarray([str(i) for i in ids], dtype=object)
        self.kind = kind
        self._ids: np.ndarray = arr
        self._index = pd.Index(arr)
        if not self._index.is_unique:
            dup = self._index[self._index.duplicated()][0]
            raise ValueError(f"duplicate {kind} id {dup!r} in IdMap")

    @classmethod
    def from_values(cls, values: Sequence[Any] | np.ndarray, kind: str) -> tuple[IdMap, np.ndarray]:
        """Build a map from a column of ids and return it with the encoded column."""
        arr = np.asarray(values) if isinstance(values, Sequence) else values
        if isinstance(arr, np.ndarray) and arr.dtype.kind in "iu":
            # Integer ids: factorize the numbers and stringify only the distinct ones
            # (same ids and order as stringifying first, many times faster).
            codes, uniques = pd.factorize(arr, sort=False)
        else:
            codes, uniques = pd.factorize(pd.Series(values).astype(str), sort=False)
        return cls(uniques, kind=kind), codes.astype(np.int32)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, external_id: object) -> bool:
        return str(external_id) in self._index

    @property
    def ids(self) -> np.ndarray:
        return self._ids

    def index_of(self, external_id: object) -> int:
        try:
            return int(self._index.get_loc(str(external_id)))
        except KeyError:
            raise UnknownIdError(f"unknown {self.kind} id {external_id!r}") from None

    def lookup(self, external_ids: Iterable[Any], missing: str = "raise") -> np.ndarray:
        """Indices of many ids. missing='raise' errors on an unknown id; 'drop' skips it;
        'mark' returns -1 for it."""
        keys = pd.Index([str(i) for i in external_ids])
        idx = self._index.get_indexer(keys)
        if (idx < 0).any():
            if missing == "raise":
                bad = keys[idx < 0][0]
                raise UnknownIdError(f"unknown {self.kind} id {bad!r}")
            if missing == "drop":
                idx = idx[idx >= 0]
        return idx.astype(np.int64)

    def to_ids(self, indices: np.ndarray | Sequence[int]) -> np.ndarray:
        return self._ids[np.asarray(indices, dtype=np.int64)]

    def extend(self, new_ids: Iterable[Any]) -> IdMap:
        """A new map with unseen ids appended (existing indices unchanged)."""
        extra = [str(i) for i in new_ids if str(i) not in self._index]
        extra = list(dict.fromkeys(extra))
        return IdMap(list(self._ids) + extra, kind=self.kind)

    def save(self, path: Path) -> None:
        pd.DataFrame({f"{self.kind}_id": self._ids}).to_csv(path, index=False)

    @classmethod
    def load(cls, path: Path, kind: str) -> IdMap:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
        return cls(df.iloc[:, 0].tolist(), kind=kind)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, IdMap) and np.array_equal(self._ids, other._ids)

    def __repr__(self) -> str:
        return f"IdMap({self.kind}, n={len(self)})"
