"""Natural-language search over a content model's item embeddings.

A model answers text queries when it can embed a query into the space of its item
vectors: either it has `encode_query(texts) -> (n, d)` itself, or its config names a text
encoder (`config.encoder`) that `lmrec.encoders.get_encoder` can build. Items are ranked by
cosine similarity to the query; with a user's history the query is nudged toward the
mean of the history items' vectors, so two users typing the same words may see a
different order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lmrec.errors import UnsupportedError
from lmrec.models.base import Recommendations, Recommender
from lmrec.retrieval import ItemIndex, build_index

#: weight of the user's history profile beside the query text (both unit length)
PERSONAL_WEIGHT = 0.25


def supports_text_search(model: Recommender) -> bool:
    """Whether `search` can answer text queries with this model."""
    if callable(getattr(model, "encode_query", None)):
        return True
    return bool(getattr(model.config, "encoder", None)) and model.item_vectors() is not None


def encode_queries(model: Recommender, texts: Sequence[str]) -> np.ndarray:
    """Query texts embedded in the model's item space, unit length, float32."""
    encode = getattr(model, "encode_query", None)
    if callable(encode):
        vecs = encode(list(texts))
    else:
        name = getattr(model.config, "encoder", None)
        if not name:
            raise UnsupportedError(
                f"model '{model.name}' cannot embed text; search needs a content model "
                "(e.g. `lmrec train content ...`)"
            )
        try:
            from lmrec.encoders import get_encoder  # type: ignore[attr-defined]
        except ImportError as exc:
            raise UnsupportedError(
                f"text search needs the text encoders ({exc}); install lmrec[text]"
            ) from None
        vecs = get_encoder(name).encode(list(texts))
    return _unit(np.atleast_2d(np.asarray(vecs, dtype=np.float32)))


def search(
    model: Recommender,
    text: str,
    k: int = 10,
    *,
    history: Sequence[Any] | None = None,
    exclude: Sequence[Any] | None = None,
    allowed: np.ndarray | None = None,
    index: ItemIndex | None = None,
) -> Recommendations:
    """Items best matching `text` (cosine over the model's item vectors).

    history: item ids the user interacted with (personalises the order).
    exclude: item ids never to return. allowed: boolean mask over the model's items.
    index: an index over the model's unit-length item vectors (built if not given).
    """
    if not text.strip():
        raise UnsupportedError("the search query is empty; send some words to search for")
    model._require_fitted()
    assert model.item_map is not None
    vecs = model.item_vectors()
    if vecs is None:
        raise UnsupportedError(f"model '{model.name}' has no item vectors to search")
    if index is None:
        index = build_index(_unit(np.asarray(vecs, dtype=np.float32)))
    query = encode_queries(model, [text])[0]
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


def _unit(v: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return (v / np.where(norms == 0, 1.0, norms)).astype(np.float32)
