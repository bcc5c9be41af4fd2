"""Item indexes for maximum-inner-product search behind one interface.

`build_index` picks the kind: an exact index (one matrix product and an argpartition) for
small catalogues, a FAISS HNSW graph (inner product) above `ann_threshold` items.
Filters and exclusions never cost results: the ANN index over-fetches and re-queries with
a growing k, and answers from the exact scores of the allowed subset when the filter is
so narrow that the graph would have to be walked almost entirely.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lmrec.core.ranking import top_k
from lmrec.errors import ConfigError

#: catalogues of at least this many items get an HNSW graph (when FAISS is installed)
DEFAULT_ANN_THRESHOLD = 100_000
#: a filter letting fewer items through than this is answered exactly over the subset
EXACT_SUBSET_LIMIT = 20_000


class ItemIndex:
    """Maximum inner product search over item vectors (rows of `vectors`).

    `search(queries, k, allowed=None, exclude=None)` ranks items by `vectors @ query`:
    `allowed` is a boolean mask over items (None: all), `exclude` item indices never to
    return, `priority` the tie order (lmrec.core.ranking.tie_priority; exact search
    only). A 1-D query gives 1-D (indices, scores) holding only rankable items; a 2-D
    batch gives (n, k) arrays padded with index -1 and score -inf.
    """

    kind = "exact"

    def __init__(self, vectors: np.ndarray) -> None:
        vecs = np.ascontiguousarray(vectors, dtype=np.float32)
        if vecs.ndim != 2:
            raise ConfigError(f"item vectors must be a 2-D matrix, got shape {vecs.shape}")
        self.vectors = vecs

    @property
    def n_items(self) -> int:
        return self.vectors.shape[0]

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def add(self, vectors: np.ndarray) -> None:
        """Append items (their indices continue after the current ones)."""
        extra = np.ascontiguousarray(vectors, dtype=np.float32).reshape(-1, self.dim)
        self.vectors = np.vstack([self.vectors, extra])

    def search(
        self,
        queries: np.ndarray,
        k: int,
        *,
        allowed: np.ndarray | None = None,
        exclude: np.ndarray | None = None,
        priority: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        one = np.asarray(queries).ndim == 1
        q = np.atleast_2d(np.asarray(queries, dtype=np.float32))
        if q.shape[1] != self.dim:
            raise ConfigError(f"query vectors have {q.shape[1]} dimensions, index has {self.dim}")
        k = max(0, min(int(k), self.n_items))
        ok = Allowed.build(self.n_items, allowed, exclude)
        idx, scores = self._search(q, k, ok, priority)
        if one:
            keep = np.isfinite(scores[0]) & (idx[0] >= 0)
            return idx[0][keep], scores[0][keep]
        return idx, scores

    def _search(
        self, q: np.ndarray, k: int, ok: Allowed, priority: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        return exact_search(self.vectors, q, k, ok.mask, ok.excluded, priority)


class HNSWIndex(ItemIndex):
    """FAISS HNSW graph over inner products; exact answers for very narrow filters."""

    kind = "hnsw"

    def __init__(
        self,
        vectors: np.ndarray,
        *,
        m: int = 32,
        ef_construction: int = 80,
        ef_search: int = 128,
        graph: Any = None,
    ) -> None:
        import faiss

        super().__init__(vectors)
        self.ef_search = ef_search
        if graph is None:
            graph = faiss.IndexHNSWFlat(self.dim, m, faiss.METRIC_INNER_PRODUCT)
            graph.hnsw.efConstruction = ef_construction
            graph.add(self.vectors)
        if graph.ntotal != self.n_items or graph.d != self.dim:
            raise ConfigError("saved HNSW graph does not match the item vectors; delete it")
        self.graph = graph

    def add(self, vectors: np.ndarray) -> None:
        before = self.n_items
        super().add(vectors)
        self.graph.add(self.vectors[before:])

    def save(self, path: str | Path) -> None:
        import faiss

        faiss.write_index(self.graph, str(path))

    @classmethod
    def load(cls, path: str | Path, vectors: np.ndarray, ef_search: int = 128) -> HNSWIndex:
        import faiss

        return cls(vectors, graph=faiss.read_index(str(path)), ef_search=ef_search)

    def _search(
        self, q: np.ndarray, k: int, ok: Allowed, priority: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        n = self.n_items
        if k == 0:
            return np.empty((len(q), 0), np.int64), np.empty((len(q), 0), np.float32)
        if ok.count <= max(EXACT_SUBSET_LIMIT, 4 * k) or ok.count * 50 < n:
            return exact_search(self.vectors, q, k, ok.mask, ok.excluded, priority)
        # Over-fetch in proportion to how much is filtered out, then grow until k survive.
        fetch = min(n, math.ceil(k * n / ok.count * 1.5) + 8)
        while True:
            idx, scores = self._graph_search(q, fetch)
            scores = np.where(ok.keep(idx), scores, -np.inf)
            found = np.isfinite(scores).sum(axis=1)
            if found.min() >= k or fetch >= n:
                break
            if fetch * 4 >= n // 2:
                return exact_search(self.vectors, q, k, ok.mask, ok.excluded, priority)
            fetch *= 4
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        idx = np.take_along_axis(idx, order, axis=1)
        scores = np.take_along_axis(scores, order, axis=1)
        idx[~np.isfinite(scores)] = -1
        return idx, scores

    def _graph_search(self, q: np.ndarray, fetch: int) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        params = faiss.SearchParametersHNSW()  # type: ignore[attr-defined]
        params.efSearch = max(self.ef_search, fetch)
        scores, idx = self.graph.search(q, fetch, params=params)
        scores = np.where(idx >= 0, scores, -np.inf).astype(np.float32)
        return idx.astype(np.int64), scores


@dataclass(frozen=True)
class Allowed:
    """Which items a search may return: a boolean mask (filters, exclusions applied), or
    only a short list of excluded items, checked by membership so that the common case
    (hide what the user has seen) never touches an array of catalogue size."""

    mask: np.ndarray | None
    excluded: np.ndarray
    count: int

    @classmethod
    def build(cls, n: int, allowed: np.ndarray | None, exclude: np.ndarray | None) -> Allowed:
        ex = np.asarray(exclude if exclude is not None else (), dtype=np.int64)
        ex = np.sort(ex[(ex >= 0) & (ex < n)])  # sorted for searchsorted membership tests
        if allowed is None:
            distinct = len(ex) - int(np.count_nonzero(ex[1:] == ex[:-1]))
            return cls(None, ex, n - distinct)
        mask = np.array(allowed, dtype=bool, copy=True)
        if mask.shape != (n,):
            raise ConfigError(f"allowed mask has shape {mask.shape}, index has {n} items")
        mask[ex] = False
        return cls(mask, np.empty(0, np.int64), int(np.count_nonzero(mask)))

    def keep(self, idx: np.ndarray) -> np.ndarray:
        """Which of these item indices (-1: none) may be returned."""
        ok = idx >= 0
        if self.mask is not None:
            ok[ok] = self.mask[idx[ok]]
        elif len(self.excluded):
            # membership by binary search in the sorted exclusions: microseconds for a
            # few hundred seen items, where np.isin costs tens
            pos = np.searchsorted(self.excluded, idx)
            pos[pos >= len(self.excluded)] = 0
            ok &= self.excluded[pos] != idx
        return ok


def exact_search(
    vectors: np.ndarray,
    q: np.ndarray,
    k: int,
    mask: np.ndarray | None,
    excluded: np.ndarray | None = None,
    priority: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k by exact inner product; only over the allowed rows when the mask is narrow.
    Ties follow `priority` (see lmrec.core.ranking.top_k)."""
    if mask is not None and np.count_nonzero(mask) * 4 < len(mask):
        subset = np.flatnonzero(mask)
        kk = min(k, len(subset))
        # ties among the subset keep the catalogue-wide order
        sub_priority = None if priority is None else priority[..., subset]
        local, scores = top_k(q @ vectors[subset].T, kk, priority=sub_priority)
        idx = subset[local]
    else:
        scores = q @ vectors.T
        if mask is not None:
            scores[:, ~mask] = -np.inf
        if excluded is not None and len(excluded):
            scores[:, excluded] = -np.inf
        idx, scores = top_k(scores, k, priority=priority)
    idx = np.asarray(idx, dtype=np.int64).reshape(len(q), -1)
    scores = np.asarray(scores, dtype=np.float32).reshape(len(q), -1)
    if idx.shape[1] < k:  # fewer allowed items than k: pad like the ANN path
        pad = k - idx.shape[1]
        idx = np.hstack([idx, np.full((len(q), pad), -1, np.int64)])
        scores = np.hstack([scores, np.full((len(q), pad), -np.inf, np.float32)])
    idx[~np.isfinite(scores)] = -1
    return idx, scores


def faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def build_index(
    vectors: np.ndarray,
    *,
    ann_threshold: int = DEFAULT_ANN_THRESHOLD,
    cache_path: str | Path | None = None,
    m: int = 32,
    ef_search: int = 128,
) -> ItemIndex:
    """Exact index below `ann_threshold` items, else HNSW (reusing `cache_path` if it
    holds a graph of the same size, and writing it there after a build)."""
    n = len(vectors)
    if n < ann_threshold or not faiss_available():
        return ItemIndex(vectors)
    if cache_path is not None and Path(cache_path).exists():
        try:
            return HNSWIndex.load(cache_path, vectors, ef_search=ef_search)
        except (ConfigError, RuntimeError):
            pass  # stale or damaged cache: rebuild below
    index = HNSWIndex(vectors, m=m, ef_search=ef_search)
    if cache_path is not None:
        tmp = Path(f"{cache_path}.tmp")
        index.save(tmp)
        tmp.replace(cache_path)
    return index
