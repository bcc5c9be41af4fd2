"""Answering one recommendation request with a live model.

The paths, in order:
  fold-in    the request's history and the user's fresh stored events, for models that
             can score a new history (Query.history, shared ranking code);
  index      a known user of an inner-product model: the item index (exact or HNSW);
  model      a known user of any other model: Recommender.recommend(Query);
  cold start an unknown user, or history a model cannot fold in: the most popular items
             of the model's training history (or the configured cold-start model).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from lmrec.models.query import Query
from lmrec.models.ranking import drop_unrankable, top_k
from lmrec.serving.live import LiveModel


@dataclass
class RecRequest:
    """A recommendation request in the user's own ids (fresh history added by the caller)."""

    user_id: str | None = None
    history: Sequence[str] = ()
    k: int = 10
    filters: dict[str, list[str]] | None = None
    exclude: Sequence[str] = ()
    exclude_seen: bool = True


@dataclass
class RecResult:
    item_ids: list[str]
    scores: list[float]
    live: LiveModel
    cold_start: bool
    #: history items the model knows (used to explain the list)
    history: list[str] = field(default_factory=list)


def recommend(
    live: LiveModel, req: RecRequest, fresh: Sequence[str] = (), cold: LiveModel | None = None
) -> RecResult:
    """Top-k for `req` with `live`; `fresh` is the user's recent stored history and `cold`
    an optional model answering users this one cannot (e.g. a content model)."""
    model = live.model
    assert model.user_map is not None and model.item_map is not None
    known_user = req.user_id is not None and req.user_id in model.user_map
    extra = _known(live, [*req.history, *fresh])
    if extra and model.supports_fold_in:
        query = _query(req, user_id=req.user_id if known_user else None, history=extra)
        recs = model.recommend(query)
        return RecResult(recs.item_ids, recs.scores, live, cold_start=False, history=extra)
    if known_user:
        exclude = [*req.exclude, *extra] if req.exclude_seen else list(req.exclude)
        if live.index is not None and live.dot is not None:
            ids, scores = _from_index(live, req, exclude)
        else:
            recs = model.recommend(_query(req, user_id=req.user_id, exclude=exclude))
            ids, scores = recs.item_ids, recs.scores
        return RecResult(ids, scores, live, cold_start=False, history=extra)
    if cold is not None and cold is not live:
        cold_extra = _known(cold, [*req.history, *fresh])
        if cold_extra and cold.model.supports_fold_in:
            recs = cold.model.recommend(_query(req, user_id=None, history=cold_extra))
            return RecResult(recs.item_ids, recs.scores, cold, cold_start=True, history=cold_extra)
    ids, scores = _popular(live, req, extra)
    return RecResult(ids, scores, live, cold_start=True, history=extra)


def _known(live: LiveModel, item_ids: Sequence[str]) -> list[str]:
    """Item ids the model was trained on (newer catalogue items cannot be scored yet)."""
    if not item_ids:
        return []
    assert live.model.item_map is not None
    idx = live.model.item_map.lookup(item_ids, missing="drop")
    return live.model.item_map.to_ids(idx).tolist()


def _query(req: RecRequest, **overrides: object) -> Query:
    values: dict[str, object] = {
        "k": req.k,
        "filters": req.filters or None,
        "exclude": list(req.exclude) or None,
        "exclude_seen": req.exclude_seen,
    }
    values.update(overrides)
    return Query(**values)  # type: ignore[arg-type]


def _excluded_indices(live: LiveModel, item_ids: Sequence[str]) -> np.ndarray:
    assert live.model.item_map is not None
    if not item_ids:
        return np.empty(0, np.int64)
    return live.model.item_map.lookup(item_ids, missing="drop")


def _from_index(
    live: LiveModel, req: RecRequest, exclude: Sequence[str]
) -> tuple[list[str], list[float]]:
    model = live.model
    assert live.dot is not None and live.index is not None
    assert model.user_map is not None and model.item_map is not None
    assert model.history_ is not None
    user = model.user_map.index_of(req.user_id)
    excluded = _excluded_indices(live, exclude)
    if req.exclude_seen:  # the row's slice of the CSR arrays (scipy's row indexing is slow)
        h = model.history_
        seen = h.indices[h.indptr[user] : h.indptr[user + 1]]
        excluded = np.concatenate([excluded, seen.astype(np.int64)])
    allowed = live.filters.mask(req.filters) if req.filters else None
    vec = np.asarray(live.dot.user_vectors(np.array([user])), dtype=np.float32)[0]
    idx, scores = live.index.search(vec, req.k, allowed=allowed, exclude=excluded)
    return model.item_map.to_ids(idx).tolist(), scores.astype(float).tolist()


def _popular(
    live: LiveModel, req: RecRequest, seen: Sequence[str]
) -> tuple[list[str], list[float]]:
    scores = live.popularity.astype(np.float64, copy=True)
    scores[_excluded_indices(live, req.exclude)] = -np.inf
    if req.exclude_seen:
        scores[_excluded_indices(live, seen)] = -np.inf
    if req.filters:
        scores[~live.filters.mask(req.filters)] = -np.inf
    idx, top = drop_unrankable(*top_k(scores, req.k))
    assert live.model.item_map is not None
    return live.model.item_map.to_ids(idx).tolist(), top.astype(float).tolist()
