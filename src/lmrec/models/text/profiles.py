"""Item and user profiles in a shared vector space (the maths the text models share).

An item profile is its text embedding (or TF-IDF vector) beside its attributes in the
catalogue. A user profile is the time-decayed, value-weighted mean of the vectors of the
items they interacted with, optionally blended with the embedding of their own attribute
text ("age 24, technician, M"). Everything is a sparse matrix product over all users at
once: W (users x items weights) @ V (items x dims).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import scipy.sparse as sp

from lmrec.data.dataset import Dataset
from lmrec.encoders.base import normalize_rows

ValueWeighting = Literal["value", "binary", "log"]
SECONDS_PER_DAY = 86_400.0


def weigh_values(values: np.ndarray, how: ValueWeighting) -> np.ndarray:
    """Interaction values as profile weights: raw, all ones, or log(1 + value) for counts."""
    v = np.asarray(values, dtype=np.float32)
    if how == "binary":
        return np.ones_like(v)
    if how == "log":
        return np.log1p(np.maximum(v, 0.0)).astype(np.float32)
    return v


def interaction_weights(
    data: Dataset,
    *,
    half_life_days: float | None = None,
    value_weighting: ValueWeighting = "value",
) -> sp.csr_matrix:
    """Users x items profile weights (float32 CSR; repeated interactions add up).

    With a half-life, an interaction's weight halves for every `half_life_days` it lies
    before the user's latest interaction. The reference is per user so that the profile
    of a user who stopped a year ago is not a vector of underflowed zeros; for the
    (normalised) profile the choice of reference does not matter otherwise.
    """
    w = weigh_values(data.values, value_weighting)
    if half_life_days is not None and data.has_timestamps:
        latest = np.full(data.n_users, np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(latest, data.users_idx, data.timestamps)
        age_days = (latest[data.users_idx] - data.timestamps) / SECONDS_PER_DAY
        w = w * np.exp2(-age_days / half_life_days).astype(np.float32)
    m = sp.csr_matrix(
        (w, (data.users_idx, data.items_idx)), shape=(data.n_users, data.n_items), dtype=np.float32
    )
    m.sum_duplicates()
    m.sort_indices()
    return m


def user_profiles(
    weights: sp.csr_matrix,
    item_vectors: np.ndarray | sp.spmatrix,
    *,
    user_vectors: np.ndarray | None = None,
    user_weight: float = 0.0,
) -> np.ndarray | sp.csr_matrix:
    """Unit-length user profiles: rows of normalise(W @ V), blended with the user's own
    text vector as normalise((1 - a) * history + a * text) when `user_weight` a > 0.

    Dense item vectors give a dense array, sparse ones a CSR matrix. A user with neither
    history nor text gets a zero row.
    """
    if sp.issparse(item_vectors):
        from sklearn.preprocessing import normalize

        return normalize(sp.csr_matrix(weights @ item_vectors, dtype=np.float32), norm="l2")
    history = normalize_rows(np.asarray(weights @ item_vectors))
    if user_vectors is None or user_weight <= 0:
        return history
    blended = (1.0 - user_weight) * history + user_weight * normalize_rows(user_vectors)
    return normalize_rows(blended)
