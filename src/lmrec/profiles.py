"""Item and user profiles in a shared vector space, and what dominates a user's profile.

An item profile is its text embedding (or TF-IDF vector) beside its attributes in the
catalogue. A user profile is the time-decayed, value-weighted mean of the vectors of the
items they interacted with, optionally blended with the embedding of their own attribute
text ("age 24, technician, M"). Everything is a sparse matrix product over all users at
once: W (users x items weights) @ V (items x dims).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp

from lmrec.data.dataset import Dataset
from lmrec.encoders.base import normalize_rows
from lmrec.encoders.text import ItemTextTemplate

if TYPE_CHECKING:
    from lmrec.models.content import ProfileRecommender

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


# ---- explanations ----------------------------------------------------------------------------
@dataclass
class ProfileExplanation:
    """What a user's profile is made of.

    items: the user's items by contribution = weight x cosine(item, profile); the
        contributions add up to the length of the unnormalised profile, so `share` says
        how much of the profile each item makes.
    terms: words and attribute values (e.g. genres) by the contribution of the items that
        carry them (each item's contribution split evenly over its terms).
    """

    user_id: str | None
    n_items: int
    items: pd.DataFrame  # item_id, text, weight, similarity, contribution, share
    terms: pd.DataFrame  # term, contribution, share
    user_text: str | None = None
    user_text_weight: float = 0.0

    def lines(self) -> list[str]:
        """Plain-text summary (for the CLI)."""
        who = self.user_id if self.user_id is not None else "this history"
        out = [f"profile of {who}: {self.n_items} items"]
        if self.user_text:
            out.append(f"attributes ({self.user_text_weight:.0%}): {self.user_text}")
        out.append("items that dominate it:")
        out += [
            f"  {r.share:6.1%}  {r.item_id}  {r.text}" for r in self.items.itertuples(index=False)
        ]
        out.append("terms that dominate it:")
        out += [f"  {r.share:6.1%}  {r.term}" for r in self.terms.itertuples(index=False)]
        return out


def explain_user_profile(
    model: ProfileRecommender,
    user_id: Any = None,
    *,
    history: Sequence[Any] | None = None,
    k_items: int = 10,
    k_terms: int = 10,
) -> ProfileExplanation:
    """The items and terms that dominate the profile of a known user or of a history."""
    model._require_fitted()
    assert model.item_map is not None and model.items is not None
    weights, user_index, user_text = model.profile_weights(user_id, history)
    profile = model.profile_of(weights, user_index)
    idx = weights.indices
    w = weights.data.astype(np.float64)
    sims = model.item_similarity(idx, profile)
    contribution = w * sims
    total = contribution.sum()
    share = contribution / total if total > 0 else np.zeros_like(contribution)
    top = np.argsort(-contribution, kind="stable")[:k_items]
    texts = model.item_template.render(model.items.iloc[idx[top]])
    items = pd.DataFrame(
        {
            "item_id": model.item_map.to_ids(idx[top]),
            "text": texts,
            "weight": w[top],
            "similarity": sims[top],
            "contribution": contribution[top],
            "share": share[top],
        }
    )
    terms = _term_contributions(model.items.iloc[idx], model.item_template, contribution, k_terms)
    return ProfileExplanation(
        user_id=None if user_id is None else str(user_id),
        n_items=len(idx),
        items=items,
        terms=terms,
        user_text=user_text,
        user_text_weight=model.user_text_weight if user_text else 0.0,
    )


def item_terms(table: pd.DataFrame, template: ItemTextTemplate) -> list[list[str]]:
    """Terms of each row: whole values of list fields (genres, tags: 'Film-Noir' stays one
    term) and the content words of the other fields."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    values = template.field_values(table)
    per_row: list[list[str]] = [[] for _ in range(len(table))]
    for name, text in values.items():
        listy = _is_list_field(template, table, name)
        for row, cell in enumerate(text.tolist()):
            if not cell:
                continue
            if listy:
                per_row[row] += [p.strip().lower() for p in cell.split(",") if p.strip()]
            else:
                words = re.findall(r"[^\W\d_][\w'-]*[^\W_]", cell.lower())
                per_row[row] += [x for x in words if x not in ENGLISH_STOP_WORDS]
    return per_row


def _term_contributions(
    table: pd.DataFrame, template: ItemTextTemplate, contribution: np.ndarray, k: int
) -> pd.DataFrame:
    terms = item_terms(table, template)
    lengths = np.fromiter((len(set(t)) for t in terms), dtype=np.int64, count=len(terms))
    rows = np.repeat(np.arange(len(terms)), lengths)
    flat = [t for ts in terms for t in dict.fromkeys(ts)]
    if not flat:
        return pd.DataFrame({"term": [], "contribution": [], "share": []})
    codes, names = pd.factorize(pd.Series(flat, dtype=object))
    per_term = contribution[rows] / lengths[rows]
    scores = np.bincount(codes, weights=per_term, minlength=len(names))
    total = contribution.sum()
    order = np.argsort(-scores, kind="stable")[:k]
    return pd.DataFrame(
        {
            "term": np.asarray(names, dtype=object)[order],
            "contribution": scores[order],
            "share": scores[order] / total if total > 0 else np.zeros(len(order)),
        }
    )


def _is_list_field(template: ItemTextTemplate, table: pd.DataFrame, name: str) -> bool:
    column = template.column(table, name)
    sample = column.dropna().head(200).tolist()
    return any(isinstance(v, list | tuple | np.ndarray) or "|" in str(v) for v in sample)
