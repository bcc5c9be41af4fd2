"""Ranking, catalogue and rating metrics: pure NumPy, vectorised over users.

Conventions follow RecBole 1.2.1 (recbole/evaluator/metrics.py) so numbers compare across
tools; docs/metrics.md writes every formula out and lists the few deliberate differences.

A top-K list is described by a boolean hit matrix `hits` (n_users, K): hits[u, j] is true
when the item at rank j+1 of user u's list is relevant. Every metric is computed once for
the largest k and read off at each requested k, as RecBole does.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from lmrec.errors import ConfigError

#: per-user ranking metrics, in the order results list them
RANKING_METRICS: tuple[str, ...] = ("precision", "recall", "f1", "ndcg", "mrr", "hit", "map")
#: per-user metrics of what is recommended rather than whether it is right
LIST_METRICS: tuple[str, ...] = ("popularity", "novelty")
#: one number for all users together
CATALOGUE_METRICS: tuple[str, ...] = ("coverage",)
RATING_METRICS: tuple[str, ...] = ("rmse", "mae")
#: click-model metrics over held-out (user, item) pairs labelled click / no click
CLICK_METRICS: tuple[str, ...] = ("auc", "logloss", "ece")
ALL_METRICS: tuple[str, ...] = (
    RANKING_METRICS + LIST_METRICS + CATALOGUE_METRICS + RATING_METRICS + CLICK_METRICS
)
#: metrics where a smaller value is better (everything else: larger is better)
LOWER_IS_BETTER: frozenset[str] = frozenset({"rmse", "mae", "popularity", "gini", "logloss", "ece"})
#: probabilities are clipped to [EPS, 1 - EPS] for the log-loss (a certain mistake would
#: otherwise cost infinity)
PROBABILITY_EPS = 1e-7
#: equal-width probability bins of the expected calibration error
ECE_BINS = 10


def metric_key(name: str, k: int) -> str:
    """The column name of a metric at a cut-off, e.g. ('ndcg', 10) -> 'ndcg@10'."""
    return f"{name}@{k}"


def lower_is_better(key: str) -> bool:
    """Whether a metric key such as 'rmse' or 'popularity@10' improves by going down."""
    return key.split("@", 1)[0] in LOWER_IS_BETTER


def pad_columns(matrix: np.ndarray, width: int, fill: bool | int) -> np.ndarray:
    """Widen a (n, K) matrix to `width` columns with `fill` (lists shorter than k:
    a catalogue smaller than k, or fewer rankable items than k)."""
    missing = width - matrix.shape[1]
    if missing <= 0:
        return matrix
    pad = np.full((matrix.shape[0], missing), fill, dtype=matrix.dtype)
    return np.concatenate([matrix, pad], axis=1)


def ranking_metrics(
    hits: np.ndarray,
    n_relevant: np.ndarray,
    ks: Sequence[int],
    metrics: Sequence[str] = RANKING_METRICS,
) -> dict[str, np.ndarray]:
    """Per-user ranking metrics at every k: {'ndcg@10': array(n_users), ...}.

    hits: (n_users, K) bool, rank order. K may be smaller than max(ks) (short lists count
    as misses beyond their end; precision still divides by k). n_relevant: (n_users,)
    number of relevant items per user; users with none get 0 for every metric.
    """
    ks = _check_ks(ks)
    unknown = set(metrics) - set(RANKING_METRICS)
    if unknown:
        raise ConfigError(
            f"unknown ranking metrics {sorted(unknown)} (known: {', '.join(RANKING_METRICS)})"
        )
    max_k = max(ks)
    hits = pad_columns(np.asarray(hits, dtype=bool), max_k, False)[:, :max_k]
    n_rel = np.asarray(n_relevant, dtype=np.float64)
    if n_rel.shape != (hits.shape[0],):
        raise ValueError("n_relevant must have one entry per row of hits")
    has_rel = n_rel > 0
    safe_rel = np.where(has_rel, n_rel, 1.0)  # avoids 0/0; users with none are zeroed below
    ranks = np.arange(1, max_k + 1, dtype=np.float64)

    n_hits = np.cumsum(hits, axis=1, dtype=np.float64)  # hits within the first j+1 ranks
    needed = set(metrics)
    out: dict[str, np.ndarray] = {}
    if "ndcg" in needed:
        discount = 1.0 / np.log2(ranks + 1.0)
        dcg = np.cumsum(hits * discount, axis=1)
        ideal = np.cumsum(discount)  # ideal[j] = IDCG of j+1 relevant items at the top
    if "map" in needed:
        # sum over hit positions of precision at that position (RecBole's sum_pre)
        precision_sum = np.cumsum(hits * (n_hits / ranks), axis=1)
    if "mrr" in needed:
        first = np.argmax(hits, axis=1)  # rank index of the first hit (0 if none)
        any_hit = hits.any(axis=1)

    for k in ks:
        col = k - 1
        found = n_hits[:, col]
        precision = found / k
        recall = found / safe_rel
        for name in metrics:
            if name == "precision":
                value = precision
            elif name == "recall":
                value = recall
            elif name == "f1":
                denom = precision + recall
                value = np.divide(
                    2 * precision * recall, denom, out=np.zeros_like(denom), where=denom > 0
                )
            elif name == "hit":
                value = (found > 0).astype(np.float64)
            elif name == "mrr":
                value = np.where(any_hit & (first < k), 1.0 / (first + 1.0), 0.0)
            elif name == "ndcg":
                ideal_len = np.minimum(safe_rel, k).astype(np.int64)
                value = dcg[:, col] / ideal[ideal_len - 1]
            else:  # map
                value = precision_sum[:, col] / np.minimum(safe_rel, k)
            out[metric_key(name, k)] = np.where(has_rel, value, 0.0)
    return out


def list_metrics(
    rec_items: np.ndarray,
    popularity: np.ndarray,
    n_popularity_users: int,
    ks: Sequence[int],
    metrics: Sequence[str] = LIST_METRICS,
) -> dict[str, np.ndarray]:
    """Per-user mean popularity and novelty of the top-k list.

    rec_items: (n_users, K) item indices in rank order, -1 where the list has no item.
    popularity: (n_items,) number of training users who interacted with each item.
    n_popularity_users: the number of training users (popularity share = pop / this).
    Both are means over the items actually in the list (RecBole divides by k; the two
    agree whenever the list is full). A user with an empty list gets NaN.
    """
    ks = _check_ks(ks)
    max_k = max(ks)
    rec = pad_columns(np.asarray(rec_items, dtype=np.int64), max_k, -1)[:, :max_k]
    present = rec >= 0
    n_present = np.cumsum(present, axis=1, dtype=np.float64)
    safe = np.where(present, rec, 0)
    out: dict[str, np.ndarray] = {}
    if "popularity" in metrics:
        pop = np.where(present, np.asarray(popularity, dtype=np.float64)[safe], 0.0)
        pop_sum = np.cumsum(pop, axis=1)
        for k in ks:
            out[metric_key("popularity", k)] = _mean_or_nan(pop_sum[:, k - 1], n_present[:, k - 1])
    if "novelty" in metrics:
        info = np.where(present, self_information(popularity, n_popularity_users)[safe], 0.0)
        info_sum = np.cumsum(info, axis=1)
        for k in ks:
            out[metric_key("novelty", k)] = _mean_or_nan(info_sum[:, k - 1], n_present[:, k - 1])
    return out


def self_information(popularity: np.ndarray, n_users: int) -> np.ndarray:
    """-log2(share of training users who interacted with the item), per item.

    An item nobody interacted with is treated as seen by one user, so its novelty is the
    largest finite value, -log2(1 / n_users), instead of infinity.
    """
    n = max(int(n_users), 1)
    counts = np.clip(np.asarray(popularity, dtype=np.float64), 1.0, n)
    return -np.log2(counts / n)


def covered_items(rec_items: np.ndarray, n_items: int, k: int) -> np.ndarray:
    """(n_items,) bool: items that appear in at least one top-k list."""
    top = np.asarray(rec_items, dtype=np.int64)[:, :k]
    covered = np.zeros(n_items, dtype=bool)
    covered[top[top >= 0]] = True
    return covered


def item_coverage(rec_items: np.ndarray, n_items: int, ks: Sequence[int]) -> dict[str, float]:
    """Share of the catalogue recommended to at least one user, at each k."""
    return {
        metric_key("coverage", k): float(covered_items(rec_items, n_items, k).mean())
        for k in _check_ks(ks)
    }


def rmse(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Root mean squared error over all (user, item) pairs."""
    p, a = _paired(predicted, actual)
    return float(np.sqrt(np.mean((p - a) ** 2)))


def mae(predicted: np.ndarray, actual: np.ndarray) -> float:
    """Mean absolute error over all (user, item) pairs."""
    p, a = _paired(predicted, actual)
    return float(np.mean(np.abs(p - a)))


def auc(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Area under the ROC curve: the chance that a random click scores above a random
    non-click (ties count half), from the rank sum (Mann-Whitney U). NaN without both."""
    y, p = _clicks(labels, probabilities)
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    _, inverse, counts = np.unique(p, return_inverse=True, return_counts=True)
    average_rank = np.cumsum(counts) - (counts - 1) / 2.0  # 1-based, ties averaged
    ranks = average_rank[inverse]
    return float((ranks[y].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def log_loss(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean binary cross-entropy (natural log) of the probabilities against the labels."""
    y, p = _clicks(labels, probabilities)
    p = np.clip(p, PROBABILITY_EPS, 1.0 - PROBABILITY_EPS)
    return float(-np.mean(np.where(y, np.log(p), np.log1p(-p))))


def expected_calibration_error(
    labels: np.ndarray, probabilities: np.ndarray, bins: int = ECE_BINS
) -> float:
    """Sum over equal-width probability bins of (share of pairs in the bin) x |mean
    predicted probability - observed click rate| (Naeini et al., AAAI 2015)."""
    y, p = _clicks(labels, probabilities)
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    predicted = np.bincount(which, weights=p, minlength=bins)
    observed = np.bincount(which, weights=y.astype(np.float64), minlength=bins)
    return float(np.abs(predicted - observed).sum() / len(y))


# ---- helpers ---------------------------------------------------------------------------------
def _check_ks(ks: Sequence[int]) -> list[int]:
    out = sorted({int(k) for k in ks})
    if not out or out[0] < 1:
        raise ConfigError(f"cut-offs k must be positive integers (got {list(ks)})")
    return out


def _mean_or_nan(total: np.ndarray, count: np.ndarray) -> np.ndarray:
    return np.divide(total, count, out=np.full_like(total, np.nan), where=count > 0)


def _clicks(labels: np.ndarray, probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels).ravel().astype(bool)
    p = np.asarray(probabilities, dtype=np.float64).ravel()
    if y.shape != p.shape or p.size == 0:
        raise ValueError("click labels and probabilities must be non-empty and equally long")
    if not np.isfinite(p).all() or p.min() < 0.0 or p.max() > 1.0:
        raise ValueError("click probabilities must be finite and within [0, 1]")
    return y, p


def _paired(predicted: np.ndarray, actual: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(predicted, dtype=np.float64).ravel()
    a = np.asarray(actual, dtype=np.float64).ravel()
    if p.shape != a.shape or p.size == 0:
        raise ValueError("predicted and actual ratings must be non-empty and equally long")
    return p, a
