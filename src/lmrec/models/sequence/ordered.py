"""What every model of ordered histories shares, without torch: each known user's
training sequence (time-ordered, saved with the model), known users scored from it,
matrix rows and queries turned into sequences, and the learned repeat offset.

A subclass implements `score_sequences`. The torch models (SASRec, GRU4Rec) and their
ONNX exports (lmrec.models.compressed) both build on this, so a query is turned into a
sequence in exactly one way.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, TypeVar

import numpy as np
import scipy.sparse as sp

from lmrec.core.query import Query
from lmrec.data.dataset import Dataset
from lmrec.errors import ConfigError
from lmrec.models.base import ModelConfig, Recommender

OC = TypeVar("OC", bound=ModelConfig)

#: the arrays that hold the users' training sequences (see OrderedHistory)
SEQUENCE_ATTRS = ("seq_items_", "seq_times_", "seq_offsets_")


class OrderedHistory(Recommender[OC]):
    """Base of models that score a user from their item sequence, oldest first."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seq_items_: np.ndarray | None = None  # all users' items, user-major, time-ordered
        self.seq_times_: np.ndarray | None = None
        self.seq_offsets_: np.ndarray | None = None  # user u: [offsets[u], offsets[u+1])

    @abstractmethod
    def score_sequences(self, sequences: list[np.ndarray], batch_size: int = 256) -> np.ndarray:
        """Next-item scores (n, n_items) float32 for item-index sequences, oldest first."""

    def _store_sequences(self, data: Dataset) -> None:
        order = np.lexsort((np.arange(data.n_interactions), data.timestamps, data.users_idx))
        self.seq_items_ = data.items_idx[order].astype(np.int32)
        self.seq_times_ = data.timestamps[order].astype(np.int64)
        bounds = np.searchsorted(data.users_idx[order], np.arange(data.n_users + 1))
        self.seq_offsets_ = bounds.astype(np.int64)

    def sequences(self) -> list[np.ndarray]:
        """Each known user's training items, oldest first."""
        assert self.seq_items_ is not None and self.seq_offsets_ is not None
        return np.split(self.seq_items_, self.seq_offsets_[1:-1])

    def _forget_rows(self, users: np.ndarray) -> None:
        """Also empty these users' stored sequences (what a known user is scored from)."""
        assert self.seq_items_ is not None and self.seq_offsets_ is not None
        assert self.seq_times_ is not None
        lengths = np.diff(self.seq_offsets_)
        keep = np.ones(len(lengths), dtype=bool)
        keep[users] = False
        rows = np.repeat(keep, lengths)
        self.seq_items_ = self.seq_items_[rows]
        self.seq_times_ = self.seq_times_[rows]
        self.seq_offsets_ = np.concatenate([[0], np.cumsum(np.where(keep, lengths, 0))])
        super()._forget_rows(users)

    def score_users(self, users: np.ndarray) -> np.ndarray:
        self._require_fitted()
        assert self.seq_items_ is not None and self.seq_offsets_ is not None
        offsets = self.seq_offsets_
        seqs = [self.seq_items_[offsets[u] : offsets[u + 1]] for u in np.asarray(users)]
        return self.score_sequences(seqs)

    def score_histories(
        self, histories: sp.csr_matrix, timestamps: sp.csr_matrix | None = None
    ) -> np.ndarray:
        """Rows of a user x item matrix; ordered by `timestamps` (same sparsity pattern)
        when given, else by item index (the row carries no order)."""
        rows = sp.csr_matrix(histories)
        rows.sort_indices()
        seqs = np.split(rows.indices.astype(np.int64), rows.indptr[1:-1])
        if timestamps is not None:
            times = sp.csr_matrix(timestamps)
            times.sort_indices()
            if times.shape != rows.shape or not np.array_equal(times.indices, rows.indices):
                raise ConfigError("timestamps must have the same shape and entries as histories")
            stamp = np.split(times.data, times.indptr[1:-1])
            seqs = [s[np.argsort(t, kind="stable")] for s, t in zip(seqs, stamp, strict=True)]
        return self.score_sequences(seqs)

    def _score_query(self, query: Query) -> tuple[np.ndarray, np.ndarray]:
        """Known user + fresh history: append in the query's order (or merge by time)."""
        if not query.history:
            return super()._score_query(query)
        assert self.user_map is not None and self.item_map is not None
        assert self.seq_items_ is not None and self.seq_offsets_ is not None
        assert self.seq_times_ is not None
        added = self.item_map.lookup(query.history)
        items, times = np.zeros(0, np.int64), np.zeros(0, np.int64)
        if query.user_id is not None and query.user_id in self.user_map:
            u = self.user_map.index_of(query.user_id)
            lo, hi = self.seq_offsets_[u], self.seq_offsets_[u + 1]
            items, times = self.seq_items_[lo:hi].astype(np.int64), self.seq_times_[lo:hi]
        if query.timestamps is not None:
            if len(query.timestamps) != len(added):
                raise ConfigError(
                    f"query has {len(added)} history items but {len(query.timestamps)} "
                    "timestamps; give one timestamp per item or none"
                )
            merged_t = np.concatenate([times, np.asarray(query.timestamps, dtype=np.int64)])
            seq = np.concatenate([items, added])[np.argsort(merged_t, kind="stable")]
        else:
            seq = np.concatenate([items, added])
        return self.score_sequences([seq])[0], np.unique(seq)


def add_repeat_offset(scores: np.ndarray, sequences: list[np.ndarray], offset: float) -> None:
    """Add the learned repeat offset, once, to every item of each row's whole sequence
    (in place). The whole history counts, not only the max_len items the network reads:
    an item watched long ago has been watched all the same."""
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    if not lengths.sum():
        return
    rows = np.repeat(np.arange(len(sequences)), lengths)
    cols = np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences])
    scores[rows, cols] += offset  # buffered: an item seen twice is offset once
