"""Recognising models whose scores are inner products of user and item vectors.

Such a model can answer from an item index instead of scoring the whole catalogue. A
model qualifies when it has user vectors (a `user_vectors(user_indices)` method or a
`user_factors_` matrix) and item vectors (`item_vectors()` or `item_factors_`) whose
products equal its `score_users` on a sample of users; the check guards against vectors
meant only for similarity (normalised, say), which would rank differently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from lmrec.models.base import Recommender


@dataclass(frozen=True)
class DotProductModel:
    """User-vector function and item matrix of a model that scores by inner product."""

    user_vectors: Callable[[np.ndarray], np.ndarray]
    item_vectors: np.ndarray


def as_dot_product(model: Recommender, sample: int = 8, seed: int = 0) -> DotProductModel | None:
    """The model's vectors if its scores are inner products of them, else None."""
    user_fn = _user_vector_function(model)
    if user_fn is None or model.n_users == 0:
        return None
    items = getattr(model, "item_factors_", None)
    if not isinstance(items, np.ndarray):
        items = model.item_vectors()
    if items is None or items.ndim != 2 or items.shape[0] != model.n_items:
        return None
    rng = np.random.default_rng(seed)
    users = rng.choice(model.n_users, size=min(sample, model.n_users), replace=False)
    try:
        vecs = np.asarray(user_fn(users), dtype=np.float32)
        expected = np.asarray(model.score_users(users), dtype=np.float32)
    except Exception:
        # A model without usable vectors is still served through its own scores.
        return None
    if vecs.shape != (len(users), items.shape[1]):
        return None
    got = vecs @ np.asarray(items, dtype=np.float32).T
    finite = np.isfinite(expected)
    scale = float(np.abs(expected[finite]).max()) if finite.any() else 1.0
    if not np.allclose(got[finite], expected[finite], rtol=1e-3, atol=1e-4 * max(scale, 1.0)):
        return None
    return DotProductModel(user_vectors=user_fn, item_vectors=np.asarray(items, np.float32))


def _user_vector_function(model: Recommender) -> Callable[[np.ndarray], np.ndarray] | None:
    method = getattr(model, "user_vectors", None)
    if callable(method):
        return method
    factors = getattr(model, "user_factors_", None)
    if isinstance(factors, np.ndarray) and factors.ndim == 2:
        return lambda users: factors[users]
    return None
