"""How closely a compressed model follows the model it was made from: on a seeded sample
of known users, the share of each top-10 list both models agree on (order aside; seen
items excluded, as served) and the largest absolute score difference."""

from __future__ import annotations

from typing import Any

import numpy as np

from lmrec.models.base import Recommender

TOP = 10


def check_parity(
    reference: Recommender[Any], candidate: Recommender[Any], n_users: int, seed: int
) -> dict[str, float | int]:
    """{"users", "top10_overlap" (mean share, 1.0 = same lists), "max_abs_error",
    "score_range" (the reference's spread of finite scores, to read the error against)}."""
    rng = np.random.default_rng([seed, 17])
    users = np.sort(rng.permutation(reference.n_users)[: min(n_users, reference.n_users)])
    ref_scores = reference.score_users(users)
    new_scores = candidate.score_users(users)
    finite = np.isfinite(ref_scores) & np.isfinite(new_scores)
    error = float(np.abs(ref_scores - new_scores)[finite].max()) if finite.any() else 0.0
    spread = float(np.ptp(ref_scores[finite])) if finite.any() else 0.0
    k = min(TOP, reference.n_items)
    ref_top, _ = reference.recommend_users(users, k)
    new_top, _ = candidate.recommend_users(users, k)
    overlap = [len(set(a) & set(b)) / k for a, b in zip(ref_top, new_top, strict=True)]
    return {
        "users": len(users),
        "top10_overlap": round(float(np.mean(overlap)), 4) if overlap else 1.0,
        "max_abs_error": round(error, 6),
        "score_range": round(spread, 4),
    }
