"""Neighbourhood models: item-item and user-user cosine similarity with shrinkage.

Similarities are computed with sparse algebra in row chunks, and only the k best
neighbours per row are kept, so the item-item matrix of a 100k-item catalogue stays small.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from lmrec.core.search_space import Choice, Float, Int, SearchSpace
from lmrec.data.dataset import Dataset
from lmrec.errors import ConfigError
from lmrec.models.base import ModelConfig, Recommender
from lmrec.models.neighbours.item_item import ItemItemRecommender, presence

#: dense floats per similarity chunk (64 MiB of float32), bounding memory on big catalogues
_CHUNK_FLOATS = 1 << 24
#: products expected to fill at least this share of their cells are handled densely
_DENSE_SHARE = 0.2


class ItemKNNConfig(ModelConfig):
    #: neighbours kept per item (the items that may contribute to its score)
    neighbors: int = Field(default=200, gt=0)
    #: shrinkage added to the cosine denominator; damps similarities built on few co-users
    shrink: float = Field(default=10.0, ge=0)
    #: scale each item's neighbour weights to sum to 1, so items with many strong
    #: neighbours do not dominate the ranking
    normalize: bool = False


class UserKNNConfig(ModelConfig):
    #: most similar training users whose histories are summed
    neighbors: int = Field(default=80, gt=0)
    shrink: float = Field(default=0.0, ge=0)
    #: most training users accepted. Neighbours are searched among all training users at
    #: scoring time, so scoring every user grows with users squared: 17 s for 20k users
    #: (1M rows, docs/benchmarks.md), about 7 min for 100k, 25 min for 200k. Raise it
    #: knowingly; itemknn, rp3beta and als score 200k users in minutes.
    max_users: int = Field(default=100_000, gt=0)


@dataclass(frozen=True)
class CosineIndex:
    """Rows that others are compared against, prepared once: transposed and normed."""

    transposed: sp.csr_matrix  # features x rows
    norms: np.ndarray

    @classmethod
    def build(cls, against: sp.csr_matrix) -> CosineIndex:
        norms = np.sqrt(np.asarray(against.multiply(against).sum(axis=1)).ravel())
        return cls(sp.csr_matrix(against.T, dtype=np.float32), norms.astype(np.float32))


def cosine_topk(
    rows: sp.csr_matrix,
    against: sp.csr_matrix | CosineIndex,
    neighbors: int,
    shrink: float,
    exclude_self: bool,
) -> sp.csr_matrix:
    """Shrunk cosine similarity of each row of `rows` to each row of `against`, keeping
    the `neighbors` largest positive similarities per row (sparse, float32).

    sim(a, b) = a·b / (|a|·|b| + shrink). With exclude_self, row i never keeps column i
    (rows and against are then the same matrix).
    """
    index = against if isinstance(against, CosineIndex) else CosineIndex.build(against)
    n_rows, n_cols = rows.shape[0], len(index.norms)
    norms_rows = np.sqrt(np.asarray(rows.multiply(rows).sum(axis=1)).ravel())
    k = min(neighbors, n_cols)
    # Upper bound of the product's non-zeros: sparse products keep their top-k by sorting
    # the non-zeros (fast on sparse data, e.g. large catalogues), dense ones by partition.
    postings = np.diff(index.transposed.indptr).astype(np.float64)
    bound = float(np.asarray(rows @ postings).sum()) if rows.nnz else 0.0
    dense = bound >= _DENSE_SHARE * n_rows * n_cols
    chunk = max(1, _CHUNK_FLOATS // max(n_cols, 1))
    parts = []
    for start in range(0, n_rows, chunk):
        stop = min(start + chunk, n_rows)
        product = sp.csr_matrix(rows[start:stop] @ index.transposed, dtype=np.float32)
        select = _topk_dense if dense else _topk_sparse
        parts.append(select(product, start, norms_rows, index.norms, k, shrink, exclude_self))
    r, c, v = (np.concatenate(p) for p in zip(*parts, strict=True)) if parts else ([],) * 3
    sims = sp.csr_matrix((v, (r, c)), shape=(n_rows, n_cols), dtype=np.float32)
    sims.sort_indices()
    return sims


_Triplets = tuple[np.ndarray, np.ndarray, np.ndarray]


def _topk_dense(
    product: sp.csr_matrix,
    start: int,
    norms_rows: np.ndarray,
    norms_cols: np.ndarray,
    k: int,
    shrink: float,
    exclude_self: bool,
) -> _Triplets:
    n_local, n_cols = product.shape
    dots = product.toarray()
    dots /= np.outer(norms_rows[start : start + n_local], norms_cols) + shrink + 1e-12
    if exclude_self:
        local = np.arange(n_local)
        dots[local, local + start] = 0.0
    if k < n_cols:
        top = np.argpartition(-dots, k - 1, axis=1)[:, :k]
    else:
        top = np.broadcast_to(np.arange(n_cols), dots.shape)
    vals = np.take_along_axis(dots, top, axis=1)
    keep = vals > 0
    return (np.nonzero(keep)[0] + start).astype(np.int64), top[keep].astype(np.int64), vals[keep]


def _topk_sparse(
    product: sp.csr_matrix,
    start: int,
    norms_rows: np.ndarray,
    norms_cols: np.ndarray,
    k: int,
    shrink: float,
    exclude_self: bool,
) -> _Triplets:
    r = np.repeat(np.arange(product.shape[0], dtype=np.int64) + start, np.diff(product.indptr))
    c = product.indices.astype(np.int64)
    v = product.data / (norms_rows[r] * norms_cols[c] + shrink + 1e-12)
    keep = v > 0
    if exclude_self:
        keep &= c != r
    r, c, v = r[keep], c[keep], v[keep]
    order = np.lexsort((c, -v, r))  # per row: best first, ties to the lower index
    r, c, v = r[order], c[order], v[order]
    rank = np.arange(len(r)) - np.searchsorted(r, r)
    top = rank < k
    return r[top], c[top], v[top].astype(np.float32)


def _normalize_rows(matrix: sp.csr_matrix) -> sp.csr_matrix:
    sums = np.asarray(matrix.sum(axis=1)).ravel()
    sums[sums == 0] = 1.0
    return sp.csr_matrix(sp.diags(1.0 / sums).astype(np.float32) @ matrix)


class ItemKNN(ItemItemRecommender[ItemKNNConfig]):
    """Score of item j = sum over the user's items i of sim(i, j), where j keeps only its
    `neighbors` most similar items (Sarwar et al. 2001; Deshpande & Karypis 2004)."""

    name = "itemknn"
    state_attrs = ("similarity_",)
    tuning_grid: ClassVar[dict[str, list[Any]]] = {
        "neighbors": [50, 100, 200, 400],
        "shrink": [0.0, 20.0],
    }
    search_space: ClassVar[SearchSpace] = {
        "neighbors": Int(10, 1000, log=True),
        "shrink": Float(0.0, 200.0),
        "normalize": Choice((False, True)),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: item x item, column j holds the neighbours of item j (history @ similarity_)
        self.similarity_: sp.csr_matrix | None = None

    def _weights(self) -> np.ndarray | sp.csr_matrix:
        assert self.similarity_ is not None
        return self.similarity_

    def _fit(self, train: Dataset, valid: Dataset | None) -> None:
        cfg = self.config
        items = train.binary_csr.T.tocsr()
        # row j = the neighbours of item j; transposed so a history row times it scores.
        by_target = cosine_topk(items, items, cfg.neighbors, cfg.shrink, exclude_self=True)
        if cfg.normalize:
            by_target = _normalize_rows(by_target)
        self.similarity_ = by_target.T.tocsr()


class UserKNN(Recommender[UserKNNConfig]):
    """Score of item j = sum of sim(u, v) over the `neighbors` users v most similar to u
    who interacted with j. New histories fold in: their neighbours are found among the
    training users."""

    name = "userknn"
    state_attrs = ()
    tuning_grid: ClassVar[dict[str, list[Any]]] = {
        "neighbors": [20, 40, 80, 160],
        "shrink": [0.0, 20.0],
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._train: sp.csr_matrix | None = None
        self._index: CosineIndex | None = None

    def _fit(self, train: Dataset, valid: Dataset | None) -> None:
        if train.n_users > self.config.max_users:
            raise ConfigError(
                f"userknn: {train.n_users:,} training users is above max_users "
                f"({self.config.max_users:,}); it compares each user with every training "
                "user, so scoring all of them grows with users squared (about 7 min at "
                "100k users, 25 min at 200k). Use itemknn, rp3beta or als, or raise "
                "userknn.max_users knowingly"
            )
        # The training histories are the model: neighbours are found at scoring time,
        # the same way for known users and for folded-in histories.
        self._after_load()

    def _after_load(self) -> None:
        assert self.history_ is not None
        self._train = presence(self.history_)
        self._index = CosineIndex.build(self._train)

    def score_users(self, users: np.ndarray) -> np.ndarray:
        assert self._train is not None
        return self._score(self._train[users], np.asarray(users))

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        self._require_fitted()
        return self._score(presence(histories), None)

    def _score(self, rows: sp.csr_matrix, self_idx: np.ndarray | None) -> np.ndarray:
        cfg = self.config
        assert isinstance(cfg, UserKNNConfig) and self._index is not None
        if self_idx is not None:
            # A known user is not their own neighbour: remove them before taking top-k.
            sims = _cosine_excluding(rows, self._index, self_idx, cfg.neighbors, cfg.shrink)
        else:
            sims = cosine_topk(rows, self._index, cfg.neighbors, cfg.shrink, exclude_self=False)
        return np.asarray((sims @ self._train).todense(), dtype=np.float32)


def _cosine_excluding(
    rows: sp.csr_matrix, train: CosineIndex, self_idx: np.ndarray, k: int, shrink: float
) -> sp.csr_matrix:
    """cosine_topk where row r may not pick training row self_idx[r]."""
    # Ask for one more neighbour, drop the self-match, then trim back to k per row.
    sims = cosine_topk(rows, train, k + 1, shrink, exclude_self=False).tocoo()
    keep = sims.col != self_idx[sims.row]
    r, c, v = sims.row[keep], sims.col[keep], sims.data[keep]
    order = np.lexsort((-v, r))
    r, c, v = r[order], c[order], v[order]
    rank = np.arange(len(r)) - np.searchsorted(r, r)
    keep = rank < k
    return sp.csr_matrix((v[keep], (r[keep], c[keep])), shape=sims.shape, dtype=np.float32)
