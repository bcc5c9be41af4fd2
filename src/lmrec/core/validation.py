"""Validation NDCG@k for early stopping: full ranking over all items, training items
removed, every held-out item of a user counted as relevant.

Kept in the bottom layer (small, NumPy only) so training and model selection inside
models (fusion weights) need neither torch nor the evaluation package;
reported figures come from lmrec.evaluation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from lmrec.core.ranking import mask_rows, tie_priority, top_k

ScoreFn = Callable[[np.ndarray], np.ndarray]


def ndcg_at_k(
    score_fn: ScoreFn,
    users: np.ndarray,
    seen: sp.csr_matrix,
    targets: sp.csr_matrix,
    k: int = 10,
    batch_size: int = 512,
) -> float:
    """Mean NDCG@k over `users` (each must have at least one target item).

    score_fn(user_batch) -> (len(batch), n_items) scores; `seen` and `targets` are
    user x item matrices (rows indexed by user index).
    """
    if len(users) == 0:
        return float("nan")
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    total = 0.0
    for start in range(0, len(users), batch_size):
        batch = users[start : start + batch_size]
        scores = np.asarray(score_fn(batch), dtype=np.float32).copy()
        mask_rows(scores, seen[batch])
        idx, top = top_k(scores, k, priority=tie_priority(batch, scores.shape[1]))
        rows = targets[batch]
        hits = np.asarray(rows[np.arange(len(batch))[:, None], idx].todense()) > 0
        hits &= np.isfinite(top)
        dcg = (hits * discounts[: idx.shape[1]]).sum(axis=1)
        n_rel = np.minimum(np.diff(rows.indptr), k)
        ideal = np.cumsum(discounts)[np.maximum(n_rel, 1) - 1]
        total += float((dcg / ideal).sum())
    return total / len(users)


def users_with_targets(
    targets: sp.csr_matrix, max_users: int | None, rng: np.random.Generator
) -> np.ndarray:
    """Users that have held-out items, subsampled to at most `max_users` (seeded)."""
    users = np.flatnonzero(np.diff(targets.indptr) > 0)
    if max_users is not None and len(users) > max_users:
        users = np.sort(rng.choice(users, size=max_users, replace=False))
    return users
