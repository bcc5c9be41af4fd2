"""Why an item is recommended to a user: the history items most like it, the attributes it
shares with them, and the model's own score and rank."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from lmrec.core.query import Query
from lmrec.errors import UnknownIdError
from lmrec.models.capabilities import ExplainsRanking, FoldsIn, HasItemVectors
from lmrec.serving.live import LiveModel, unit_rows


def history_indices(live: LiveModel, user_id: str | None, history: Sequence[str]) -> np.ndarray:
    """The user's training history plus known extra items, as item indices."""
    model = live.model
    assert model.user_map is not None and model.item_map is not None
    assert model.history_ is not None
    parts = [model.item_map.lookup(history, missing="drop")]
    if user_id is not None and user_id in model.user_map:
        parts.append(model.history_[model.user_map.index_of(user_id)].indices.astype(np.int64))
    return np.unique(np.concatenate(parts)) if parts else np.empty(0, np.int64)


def similarity_to(live: LiveModel, item: int, others: np.ndarray) -> np.ndarray:
    """Cosine similarity of `item` to `others`: over the model's item vectors when it has
    them, else over co-occurrence in the training history."""
    if not len(others):
        return np.empty(0)
    if isinstance(live.model, HasItemVectors):
        vecs = live.model.item_vectors()
        unit = unit_rows(np.asarray(vecs)[np.append(others, item)])
        return unit[:-1] @ unit[-1]
    x = live.cooccurrence()
    if item >= x.shape[1]:
        return np.zeros(len(others))
    valid = others[others < x.shape[1]]
    co = np.zeros(len(others))
    counts = np.diff(x.indptr)
    target = x[:, [item]]
    shared = np.asarray((x[:, valid].T @ target).todense()).ravel()
    denom = np.sqrt(counts[valid] * max(counts[item], 1))
    co[others < x.shape[1]] = np.divide(shared, denom, out=np.zeros_like(shared), where=denom > 0)
    return co


def shared_attributes(live: LiveModel, item: int, others: np.ndarray) -> list[dict[str, Any]]:
    """Attribute values of `item` that history items share, with how many do."""
    items = live.model.items
    if items is None or item >= len(items) or not len(others):
        return []
    out = []
    others = others[others < len(items)]
    for col in live.attribute_columns:
        cell = items[col].iloc[item]
        if pd.isna(cell):
            continue
        values = [v for v in str(cell).split("|") if v]
        hist = items[col].iloc[others].dropna().astype(str).str.lower().str.split("|").explode()
        counts = hist.value_counts()
        for value in values:
            n = int(counts.get(value.lower(), 0))
            if n:
                out.append({"attribute": col, "value": value, "history_items": n})
    return sorted(out, key=lambda d: -d["history_items"])


def explain(
    live: LiveModel,
    item_id: str,
    *,
    user_id: str | None = None,
    history: Sequence[str] = (),
    top: int = 5,
) -> dict[str, Any]:
    """Explanation of `item_id` for a user (known id and/or history of item ids)."""
    return explain_many(live, [item_id], user_id=user_id, history=history, top=top)[0]


def explain_many(
    live: LiveModel,
    item_ids: Sequence[str],
    *,
    user_id: str | None = None,
    history: Sequence[str] = (),
    top: int = 5,
) -> list[dict[str, Any]]:
    """Explanations of several items for one user (the model scores the user once)."""
    model = live.model
    assert model.item_map is not None and model.user_map is not None
    items = [model.item_map.index_of(i) for i in item_ids]
    hist_all = history_indices(live, user_id, history)
    if user_id is not None and user_id not in model.user_map and not len(hist_all):
        raise UnknownIdError(
            f"unknown user id {user_id!r} with no stored events: nothing to explain from"
        )
    scores = user_scores(live, user_id, history)
    notes: list[list[str]] = (
        model.ranking_notes(user_id, list(item_ids))
        if isinstance(model, ExplainsRanking)
        else [[] for _ in item_ids]
    )
    out = []
    for item_id, item, said in zip(item_ids, items, notes, strict=True):
        hist = hist_all[hist_all != item]
        sims = similarity_to(live, item, hist)
        order = np.argsort(-sims, kind="stable")[:top]
        because = [
            {"item_id": str(model.item_map.to_ids([hist[j]])[0]), "similarity": float(sims[j])}
            for j in order
            if sims[j] > 0
        ]
        out.append(
            {
                "item_id": item_id,
                "because_of": because,
                "shared_attributes": shared_attributes(live, item, hist)[:top],
                "model_signal": _signal(live, scores, item),
                "notes": said,
            }
        )
    return out


def user_scores(
    live: LiveModel, user_id: str | None, history: Sequence[str]
) -> tuple[np.ndarray, Query] | None:
    """The model's scores over all items for this user (None when it cannot score them)."""
    model = live.model
    assert model.user_map is not None and model.item_map is not None
    known_user = user_id is not None and user_id in model.user_map
    extra = model.item_map.to_ids(model.item_map.lookup(history, missing="drop")).tolist()
    if extra and isinstance(model, FoldsIn):
        query = Query(user_id=user_id if known_user else None, history=extra)
    elif known_user:
        query = Query(user_id=user_id)
    else:
        return None
    return model.score(query), query


def _signal(
    live: LiveModel, scored: tuple[np.ndarray, Query] | None, item: int
) -> dict[str, Any] | None:
    """The model's score for the item and its rank among all items for this user."""
    if scored is None:
        return None
    scores, _query = scored
    score = float(scores[item])
    if not np.isfinite(score):
        return None
    rank = int(np.sum(np.nan_to_num(scores, nan=-np.inf) > score)) + 1
    return {"score": score, "rank": rank, "of": len(scores)}
