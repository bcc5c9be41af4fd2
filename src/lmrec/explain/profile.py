"""What dominates a user's profile: the items and terms behind a text-profile model's
user vector (content, tfidf, hybrid), for the CLI's `lmrec profile` and the service."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lmrec.encoders.text import ItemTextTemplate
from lmrec.models.capabilities import ExplainsProfile


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
    model: ExplainsProfile,
    user_id: Any = None,
    *,
    history: Sequence[Any] | None = None,
    k_items: int = 10,
    k_terms: int = 10,
) -> ProfileExplanation:
    """The items and terms that dominate the profile of a known user or of a history."""
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
