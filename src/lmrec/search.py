"""Natural-language search over a model's item text embeddings.

A model answers text queries when it is `TextSearchable`: it embeds a query
(`encode_query`) into the space of its items' text vectors (`text_vectors`). Items are
ranked by cosine similarity to the query. Personalisation, two ways:
- with a user's history the query is nudged toward the mean of the history items'
  vectors, so two users typing the same words may see a different order;
- with `blend` > 0 and a user (or history), the ranking is
  (1 - blend) * similarity + blend * the model's own scores for that user, both min-max
  normalised per query over the items the user has not seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import scipy.sparse as sp

from lmrec.core.query import Query
from lmrec.core.ranking import rank
from lmrec.data.dataset import Dataset
from lmrec.errors import ConfigError, UnsupportedError
from lmrec.models.base import Recommendations, Recommender
from lmrec.models.capabilities import TextSearchable
from lmrec.retrieval import ItemIndex, build_index

#: weight of the user's history profile beside the query text (both unit length)
PERSONAL_WEIGHT = 0.25


def supports_text_search(model: object) -> bool:
    """Whether `search` can answer text queries with this model."""
    return isinstance(model, TextSearchable)


def _searchable(model: Recommender[Any]) -> TextSearchable:
    if not isinstance(model, TextSearchable):
        raise UnsupportedError(
            f"model '{model.name}' cannot search by text: it cannot embed text; search "
            "with a content or hybrid model (e.g. `lmrec train content ...`)"
        )
    return model


def catalogue_model(data: Dataset, encoder: dict[str, Any] | None = None) -> Recommender[Any]:
    """A content model over a dataset's whole catalogue, to search it without a trained
    model (embeddings come from the on-disk cache after the first time)."""
    from lmrec.models.registry import create_model

    return create_model("content", {"encoder": encoder or {}}).fit(data)


def encode_queries(model: Recommender[Any], texts: Sequence[str]) -> np.ndarray:
    """Query texts embedded in the model's item text space, unit length, float32."""
    vecs = _searchable(model).encode_query(list(texts))
    return _unit(np.atleast_2d(np.asarray(vecs, dtype=np.float32)))


def search(
    model: Recommender[Any],
    text: str,
    k: int = 10,
    *,
    history: Sequence[Any] | None = None,
    exclude: Sequence[Any] | None = None,
    allowed: np.ndarray | None = None,
    index: ItemIndex | None = None,
    user_id: Any = None,
    blend: float = 0.0,
    query_vector: np.ndarray | None = None,
) -> Recommendations:
    """Items best matching `text` (cosine over the model's item text vectors).

    history: item ids the user interacted with (personalises the order).
    exclude: item ids never to return. allowed: boolean mask over the model's items.
    index: an index over the model's unit-length item vectors (built if not given).
    user_id, blend: with blend in (0, 1], mix in the model's scores for this user (and
        history); the whole catalogue is scored, so no index is used.
    query_vector: `text` already encoded (`encode_queries`), e.g. from a cache.
    """
    if not text.strip():
        raise UnsupportedError("the search query is empty; send some words to search for")
    if not 0.0 <= blend <= 1.0:
        raise ConfigError(f"blend must be between 0 and 1 (got {blend})")
    model._require_fitted()
    assert model.item_map is not None
    vecs = _searchable(model).text_vectors()
    if blend > 0 and (user_id is not None or history):
        return _blended(
            model, text, k, vecs, user_id, history, exclude, allowed, blend, query_vector
        )
    if index is None:
        index = build_index(_unit(np.asarray(vecs, dtype=np.float32)))
    query = encode_queries(model, [text])[0] if query_vector is None else query_vector
    if query.shape[0] != index.dim:
        raise UnsupportedError(
            f"model '{model.name}' embeds text in {query.shape[0]} dimensions but its items "
            f"have {index.dim}; retrain it with the encoder it searches with"
        )
    if history:
        known = model.item_map.lookup(history, missing="drop")
        if known.size:
            profile = _unit(index.vectors[known].mean(axis=0, keepdims=True))[0]
            query = _unit((query + PERSONAL_WEIGHT * profile)[None, :])[0]
    excluded = model.item_map.lookup(exclude, missing="drop") if exclude else None
    idx, scores = index.search(query, k, allowed=allowed, exclude=excluded)
    return Recommendations(model.item_map.to_ids(idx).tolist(), scores.astype(float).tolist())


def _blended(
    model: Recommender[Any],
    text: str,
    k: int,
    vecs: np.ndarray,
    user_id: Any,
    history: Sequence[Any] | None,
    exclude: Sequence[Any] | None,
    allowed: np.ndarray | None,
    blend: float,
    query_vector: np.ndarray | None = None,
) -> Recommendations:
    from lmrec.models.ensemble.fusion import normalise

    assert model.item_map is not None
    query = encode_queries(model, [text])[0] if query_vector is None else query_vector
    unit = _unit(np.asarray(vecs, dtype=np.float32))
    if query.shape[0] != unit.shape[1]:
        raise UnsupportedError(
            f"model '{model.name}' embeds text in {query.shape[0]} dimensions but its items "
            f"have {unit.shape[1]}; retrain it with the encoder it searches with"
        )
    personal = Query(user_id=user_id, history=list(history) if history else None)
    mine, seen = model._score_query(personal)
    seen_row = sp.csr_matrix((np.ones(len(seen)), (np.zeros(len(seen), int), seen)), (1, len(mine)))
    # min-max over the unseen items; seen items (scored high by most models) are capped
    # at 1 so that both parts stay in [0, 1]
    sims = np.clip(normalise((unit @ query)[None, :], seen_row, "minmax")[0], 0, 1)
    theirs = normalise(np.asarray(mine, dtype=np.float32)[None, :], seen_row, "minmax")[0]
    theirs = np.clip(theirs, 0, 1)
    scores = (1.0 - blend) * sims + blend * theirs
    excluded = model.item_map.lookup(exclude, missing="drop") if exclude else None
    mask = None if allowed is None else np.asarray(allowed, dtype=bool)
    idx, top = rank(scores, k, excluded=excluded, allowed=mask)
    return Recommendations(model.item_map.to_ids(idx).tolist(), top.astype(float).tolist())


def _unit(v: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return (v / np.where(norms == 0, 1.0, norms)).astype(np.float32)
