"""Answering one recommendation request with a live model.

The paths, in order:
  fold-in    the request's history and the user's fresh stored events, for models that
             can score a new history (Query.history, shared ranking code);
  index      a known user of an inner-product model: the item index (exact or HNSW);
  model      a known user of any other model: Recommender.recommend(Query);
  cold start an unknown user, or history a model cannot fold in: the most popular items
             of the model's training history (or the configured cold-start model).

Every path excludes, filters and cuts at k through `lmrec.models.base.item_constraints`
and the shared top-k, so the index path gives the list the model itself would.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from lmrec.core.query import Query
from lmrec.core.ranking import rank, tie_priority
from lmrec.models.base import item_constraints
from lmrec.models.capabilities import FoldsIn
from lmrec.serving.live import LiveModel


@dataclass
class RecResult:
    item_ids: list[str]
    scores: list[float]
    live: LiveModel
    cold_start: bool
    #: history items the model knows (used to explain the list)
    history: list[str] = field(default_factory=list)


def recommend(
    live: LiveModel, query: Query, fresh: Sequence[str] = (), cold: LiveModel | None = None
) -> RecResult:
    """Top-k for `query` with `live`; `fresh` is the user's recent stored history and
    `cold` an optional model answering users this one cannot (e.g. a content model)."""
    model = live.model
    assert model.user_map is not None
    known_user = query.user_id is not None and query.user_id in model.user_map
    extra = _known(live, [*(query.history or ()), *fresh])
    if extra and isinstance(model, FoldsIn):
        folded = _with(query, user_id=query.user_id if known_user else None, history=extra)
        recs = model.recommend(folded)
        return RecResult(recs.item_ids, recs.scores, live, cold_start=False, history=extra)
    if known_user:
        # The fresh items cannot be folded in: they are still never recommended again.
        seen_too = [*(query.exclude or ()), *extra] if query.exclude_seen else query.exclude
        asked = _with(query, history=None, exclude=list(seen_too or ()) or None)
        if live.index is not None and live.inner is not None:
            ids, scores = _from_index(live, asked)
        else:
            recs = model.recommend(asked)
            ids, scores = recs.item_ids, recs.scores
        return RecResult(ids, scores, live, cold_start=False, history=extra)
    if cold is not None and cold is not live:
        cold_extra = _known(cold, [*(query.history or ()), *fresh])
        if cold_extra and isinstance(cold.model, FoldsIn):
            recs = cold.model.recommend(_with(query, user_id=None, history=cold_extra))
            return RecResult(recs.item_ids, recs.scores, cold, cold_start=True, history=cold_extra)
    ids, scores = _popular(live, query, extra)
    return RecResult(ids, scores, live, cold_start=True, history=extra)


def _with(query: Query, **changes: object) -> Query:
    return dataclasses.replace(query, **changes)  # type: ignore[arg-type]


def _known(live: LiveModel, item_ids: Sequence[str]) -> list[str]:
    """Item ids the model was trained on (newer catalogue items cannot be scored yet)."""
    if not item_ids:
        return []
    assert live.model.item_map is not None
    idx = live.model.item_map.lookup(item_ids, missing="drop")
    return live.model.item_map.to_ids(idx).tolist()


def _from_index(live: LiveModel, query: Query) -> tuple[list[str], list[float]]:
    """A known user of an inner-product model, answered by the item index."""
    model = live.model
    assert live.inner is not None and live.index is not None
    assert model.user_map is not None and model.item_map is not None
    assert model.history_ is not None
    user = model.user_map.index_of(query.user_id)
    h = model.history_  # the row's slice of the CSR arrays (scipy's row indexing is slow)
    seen = h.indices[h.indptr[user] : h.indptr[user + 1]].astype(np.int64)
    excluded, allowed = item_constraints(model, query, seen)
    vec = np.asarray(live.inner.user_vectors(np.array([user])), dtype=np.float32)[0]
    priority = tie_priority([user], model.n_items)[0]
    idx, scores = live.index.search(
        vec, query.k, allowed=allowed, exclude=excluded, priority=priority
    )
    return model.item_map.to_ids(idx).tolist(), scores.astype(float).tolist()


def _popular(live: LiveModel, query: Query, seen: Sequence[str]) -> tuple[list[str], list[float]]:
    assert live.model.item_map is not None
    seen_idx = live.model.item_map.lookup(seen, missing="drop") if seen else None
    excluded, allowed = item_constraints(live.model, query, seen_idx)
    user = live.model.tie_row(query)
    idx, top = rank(live.popularity, query.k, excluded=excluded, allowed=allowed, user=user)
    return live.model.item_map.to_ids(idx).tolist(), top.astype(float).tolist()
