"""Re-ranking the service's answers (`rerank=mmr:0.5`, `calibrated:0.3`).

The item data a re-ranker reads (item text embeddings for mmr, genres for calibrated) is
built on the first request that asks for it and kept with the live model version, so
only that request pays for it. A list is re-ranked from the top `pool` items the usual
paths (fold-in, item index, model, cold start) return, with the user's history: their
training items, the request's history and their fresh events."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from lmrec.core.rerank import Reranker, RerankSpec
from lmrec.errors import ConfigError
from lmrec.models.reranking import history_indices, rerank_list, reranker_for
from lmrec.serving.live import LiveModel
from lmrec.serving.problems import ProblemError
from lmrec.serving.recommend import RecResult


def live_reranker(live: LiveModel, label: str) -> Reranker:
    """The re-ranker `label` over a live model's catalogue (422 when the catalogue lacks
    what it needs: item text for mmr, genres for calibrated)."""
    spec = RerankSpec.parse(label)
    model = live.model
    # the catalogue can grow (items added to a live model): the data follows its size
    key = (spec.method, model.n_items, id(model.items))
    base = live.rerankers.get(key)
    if base is None:
        try:
            base = reranker_for(model, spec)
        except ConfigError as exc:
            raise ProblemError(422, f"rerank={label}: {exc}") from None
        live.rerankers[key] = base
    return replace(base, spec=spec)


def reranked(
    result: RecResult, label: str, k: int, user_id: str | None, fresh: Sequence[str]
) -> RecResult:
    """`result` (the top `pool` items) re-ranked to k by the model that answered it."""
    reranker = live_reranker(result.live, label)
    seen = history_indices(result.live.model, user_id, [*result.history, *fresh])
    ids, scores = rerank_list(result.live.model, reranker, result.item_ids, result.scores, k, seen)
    return replace(result, item_ids=ids, scores=scores)
