"""Beyond-accuracy metrics: what a list is like, not only whether it is right.

Per user (means over users in results, bootstrap intervals like every per-user metric):
- `diversity@k`: intra-list diversity, the mean pairwise cosine distance of the item text
  embeddings in the list (needs `item_vectors`);
- `longtail@k`: the share of the list from the long tail (items outside the short head,
  the most popular items that together hold 80% of training interactions);
- `serendipity@k`: the share of the list that is relevant *and* unexpected, i.e. not in the
  list a popularity recommender gives that user (Ge et al., RecSys 2010).

For all users together:
- `gini@k`: Gini coefficient of exposure, how unequally the top-k lists spread over the
  catalogue (0: every item shown equally often; near 1: a few items take all exposure).

Formulas: docs/metrics.md. Item indices follow evaluation/metrics.py: (n_users, K) arrays in
rank order with -1 where a list has no item.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp

from lmrec.evaluation.metrics import metric_key, pad_columns

#: per-user beyond-accuracy metrics, in the order results list them
BEYOND_LIST_METRICS: tuple[str, ...] = ("diversity", "longtail", "serendipity")
#: one number for all users together (with a bootstrap interval over users)
BEYOND_CATALOGUE_METRICS: tuple[str, ...] = ("gini",)
BEYOND_METRICS = BEYOND_LIST_METRICS + BEYOND_CATALOGUE_METRICS
#: share of training interactions held by the short head (the rest is the long tail)
HEAD_SHARE = 0.8


def long_tail_mask(popularity: np.ndarray, head_share: float = HEAD_SHARE) -> np.ndarray:
    """(n_items,) bool: items outside the short head, the most popular items that together
    hold `head_share` of all interactions (ties in popularity broken by index). Items nobody
    interacted with are in the tail."""
    pop = np.asarray(popularity, dtype=np.float64)
    order = np.argsort(-pop, kind="stable")
    total = pop.sum()
    tail = np.ones(len(pop), dtype=bool)
    if total <= 0:
        return tail
    cumulative = np.cumsum(pop[order])
    n_head = int(np.searchsorted(cumulative, head_share * total, side="left")) + 1
    tail[order[:n_head]] = False
    return tail


def popular_unseen(popularity: np.ndarray, seen: sp.csr_matrix, k: int) -> np.ndarray:
    """(n_rows, k) the k most popular items each row of `seen` has not interacted with:
    the primitive recommender serendipity measures surprise against."""
    order = np.argsort(-np.asarray(popularity, dtype=np.float64), kind="stable")
    out = np.full((seen.shape[0], k), -1, dtype=np.int64)
    for row in range(seen.shape[0]):
        items = seen.indices[seen.indptr[row] : seen.indptr[row + 1]]
        # the first k + |seen| items of the popularity order always hold k unseen ones
        head = order[: k + len(items)]
        keep = head[~np.isin(head, items)][:k]
        out[row, : len(keep)] = keep
    return out


def beyond_list_metrics(
    rec_items: np.ndarray,
    hits: np.ndarray,
    ks: Sequence[int],
    metrics: Sequence[str],
    *,
    tail: np.ndarray | None = None,
    expected: np.ndarray | None = None,
    item_vectors: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """Per-user values at every k of the `metrics` asked for.

    rec_items, hits: (n_users, K) as in metrics.ranking_metrics. tail: long_tail_mask.
    expected: (n_users, >=max k) the popularity recommender's lists (popular_unseen).
    item_vectors: (n_items, d) item text embeddings. A user with an empty list gets NaN.
    """
    ks = sorted({int(k) for k in ks})
    max_k = max(ks)
    rec = pad_columns(np.asarray(rec_items, dtype=np.int64), max_k, -1)[:, :max_k]
    hit = pad_columns(np.asarray(hits, dtype=bool), max_k, False)[:, :max_k]
    present = rec >= 0
    safe = np.where(present, rec, 0)
    n_present = np.cumsum(present, axis=1, dtype=np.float64)
    out: dict[str, np.ndarray] = {}
    if "longtail" in metrics and tail is not None:
        in_tail = np.cumsum(present & tail[safe], axis=1, dtype=np.float64)
        for k in ks:
            out[metric_key("longtail", k)] = _share(in_tail[:, k - 1], n_present[:, k - 1])
    if "serendipity" in metrics and expected is not None:
        for k in ks:
            unexpected = ~_row_isin(rec[:, :k], expected[:, :k])
            good = (hit[:, :k] & unexpected & present[:, :k]).sum(axis=1, dtype=np.float64)
            out[metric_key("serendipity", k)] = _share(good, n_present[:, k - 1])
    if "diversity" in metrics and item_vectors is not None:
        for k in ks:
            out[metric_key("diversity", k)] = intra_list_diversity(rec[:, :k], item_vectors)
    return out


def intra_list_diversity(rec_items: np.ndarray, item_vectors: np.ndarray) -> np.ndarray:
    """(n_users,) mean over pairs i < j in each list of 1 - cos(v_i, v_j); NaN for a list
    of fewer than two items."""
    vectors = np.asarray(item_vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = vectors / np.where(norms > 0, norms, 1.0)
    present = rec_items >= 0
    v = unit[np.where(present, rec_items, 0)] * present[..., None]  # (n, k, d), 0 for gaps
    sims = np.einsum("nkd,nld->nkl", v, v)
    n = present.sum(axis=1).astype(np.float64)
    pairs = n * (n - 1) / 2
    # sum over i < j of (1 - sim) = pairs - (sum of all sims - the diagonal) / 2
    off_diagonal = (sims.sum(axis=(1, 2)) - np.einsum("nkk->n", sims)) / 2
    return np.divide(pairs - off_diagonal, pairs, out=np.full(len(n), np.nan), where=pairs > 0)


def exposure(rec_items: np.ndarray, n_items: int, k: int) -> np.ndarray:
    """(n_items,) how many top-k lists show each item."""
    top = np.asarray(rec_items, dtype=np.int64)[:, :k]
    return np.bincount(top[top >= 0], minlength=n_items).astype(np.float64)


def gini(values: np.ndarray) -> float:
    """Gini coefficient of non-negative values: sum_i (2i - n - 1) x_(i) / (n sum x), the
    x_(i) sorted ascending, i = 1..n; 0 when all are equal (or all zero)."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    n, total = len(x), x.sum()
    if n == 0 or total <= 0:
        return 0.0
    i = np.arange(1, n + 1, dtype=np.float64)
    return float(((2 * i - n - 1) * x).sum() / (n * total))


def exposure_gini(
    rec_items: np.ndarray, n_items: int, ks: Sequence[int], n_boot: int = 200, seed: int = 0
) -> tuple[dict[str, float], dict[str, list[float]]]:
    """Gini of exposure at each k, and a 95% bootstrap interval over users (users resampled
    with replacement, exposure recounted). A resample repeats users, which concentrates
    exposure, so resampled Ginis sit above the value; the percentile interval is shifted
    down by that bias (mean of the resamples minus the value) so it is centred on it."""
    rng = np.random.default_rng(seed)
    values: dict[str, float] = {}
    intervals: dict[str, list[float]] = {}
    draws = [rng.integers(0, len(rec_items), len(rec_items)) for _ in range(n_boot)]
    for k in sorted({int(k) for k in ks}):
        key = metric_key("gini", k)
        values[key] = gini(exposure(rec_items, n_items, k))
        boot = [gini(exposure(rec_items[d], n_items, k)) for d in draws]
        if not boot:
            intervals[key] = [np.nan, np.nan]
            continue
        bias = float(np.mean(boot)) - values[key]
        low, high = np.quantile(boot, [0.025, 0.975]) - bias
        intervals[key] = [max(0.0, float(low)), float(high)]
    return values, intervals


def _share(count: np.ndarray, total: np.ndarray) -> np.ndarray:
    return np.divide(count, total, out=np.full_like(count, np.nan), where=total > 0)


def _row_isin(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(n, k) bool: a[r, j] occurs in row r of b."""
    return (a[:, :, None] == b[:, None, :]).any(axis=2)
