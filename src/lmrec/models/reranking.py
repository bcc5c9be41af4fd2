"""Re-ranking a fitted model's lists (lmrec.core.rerank) for `lmrec recommend` and the
service: the re-ranker gets what it needs from the model's own catalogue (item text
embeddings for mmr, the items' genres for calibrated), and a list is re-ranked from the
model's top `pool` candidates, best first, with the user's history for calibration.

A re-ranked list keeps each item's model score, so its scores need not be in order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from lmrec.core.rerank import Reranker, RerankSpec, category_matrix, unit_rows
from lmrec.errors import ConfigError
from lmrec.models.base import Recommender

#: columns read as item categories by the calibrated re-ranker, in this order
GENRE_COLUMNS = ("genres", "genre", "categories", "category")


def genre_column(items: pd.DataFrame | None) -> str:
    """The items' genre column, or a ConfigError saying it is missing."""
    columns = [] if items is None else list(items.columns)
    for name in GENRE_COLUMNS:
        if name in columns:
            return name
    raise ConfigError(
        "the calibrated re-ranker needs item genres: an items table with a 'genres' column "
        f"(values like Action|Comedy); have: {', '.join(map(str, columns)) or 'no items table'}"
    )


def reranker_from_items(
    spec: RerankSpec, items: pd.DataFrame | None, item_vectors: np.ndarray | None
) -> Reranker:
    """The re-ranker for `spec` over a catalogue: `item_vectors` (item text embeddings)
    for mmr, the items' genres for calibrated (values split on |)."""
    if spec.method == "mmr":
        if item_vectors is None:
            raise ConfigError(
                f"re-ranker {spec.label} needs item text embeddings: the items need text "
                "and the text extra must be installed"
            )
        return Reranker(spec, vectors=unit_rows(item_vectors))
    column = genre_column(items)
    assert items is not None
    categories, _ = category_matrix(items[column].tolist())
    return Reranker(spec, categories=categories)


def reranker_for(model: Recommender[Any], spec: RerankSpec) -> Reranker:
    """The re-ranker for `spec` over a fitted model's catalogue (embedding the items'
    text for mmr: cached on disk, so only the first use pays for it)."""
    vectors = None
    if spec.method == "mmr":
        from lmrec.encoders.item_embeddings import item_text_vectors

        vectors, why = item_text_vectors(model.items)
        if vectors is None:
            raise ConfigError(f"re-ranker {spec.label} needs item text embeddings: {why}")
    return reranker_from_items(spec, model.items, vectors)


def history_indices(
    model: Recommender[Any], user_id: Any = None, item_ids: Sequence[str] = ()
) -> np.ndarray:
    """A user's history as item indices: a known user's training items plus `item_ids`
    (a request's history, fresh events) the model knows."""
    assert model.user_map is not None and model.item_map is not None
    assert model.history_ is not None
    parts = [model.item_map.lookup(list(item_ids), missing="drop")] if item_ids else []
    if user_id is not None and user_id in model.user_map:
        parts.append(model.history_[model.user_map.index_of(user_id)].indices)
    return np.unique(np.concatenate(parts)).astype(np.int64) if parts else np.empty(0, np.int64)


def rerank_list(
    model: Recommender[Any],
    reranker: Reranker,
    item_ids: Sequence[str],
    scores: Sequence[float],
    k: int,
    history: np.ndarray | None = None,
) -> tuple[list[str], list[float]]:
    """Re-rank one list of candidates (best first; the model's top `reranker.pool`) to k
    items; `history` (item indices, see history_indices) is what the calibrated
    re-ranker reads the user's genre mix from."""
    assert model.item_map is not None
    if not len(item_ids):
        return [], []
    idx = model.item_map.lookup(list(item_ids))
    seen = np.empty(0, np.int64) if history is None else np.asarray(history, dtype=np.int64)
    row = sp.csr_matrix(
        (np.ones(len(seen)), (np.zeros(len(seen), dtype=np.int64), seen)),
        shape=(1, model.n_items),
    )
    chosen = reranker.apply(
        idx[None, :], np.asarray(scores, dtype=np.float64)[None, :], k, histories=row
    )[0]
    chosen = chosen[chosen >= 0]
    score_of = dict(zip(idx.tolist(), scores, strict=True))
    return model.item_map.to_ids(chosen).tolist(), [float(score_of[i]) for i in chosen.tolist()]


def rerank_frame(
    model: Recommender[Any], reranker: Reranker, frame: pd.DataFrame, k: int
) -> pd.DataFrame:
    """Re-rank the lists of recommend_many (user_id, rank, item_id, score, ...; each user's
    top `reranker.pool`) to k per user, with each known user's training history."""
    assert model.user_map is not None and model.history_ is not None
    parts = []
    for user_id, group in frame.groupby("user_id", sort=False):
        seen = history_indices(model, user_id)
        ids, _ = rerank_list(
            model, reranker, group["item_id"].tolist(), group["score"].tolist(), k, seen
        )
        kept = group.set_index("item_id").loc[ids].reset_index()
        kept["rank"] = np.arange(1, len(ids) + 1)
        parts.append(kept[frame.columns])
    if not parts:
        return frame.iloc[:0]
    return pd.concat(parts, ignore_index=True)
