"""POST /v1/recommendations/batch: lists for many users in one request."""

from __future__ import annotations

import uuid

from fastapi import APIRouter

from lmrec.core.query import Query as RecQuery
from lmrec.core.rerank import DEFAULT_POOL
from lmrec.serving.exploration import candidates_to_rank, draw_list
from lmrec.serving.item_fields import check_fields, fields_of
from lmrec.serving.limits import check_k
from lmrec.serving.problems import ProblemError
from lmrec.serving.recommend import recommend
from lmrec.serving.reranking import reranked
from lmrec.serving.routes.deps import PERSONAL, Ctx
from lmrec.serving.routes.problem_docs import problem_responses
from lmrec.serving.schemas import (
    MAX_BATCH_ROWS,
    BatchRecommendationRequest,
    BatchRecommendationResponse,
    ScoredItem,
    UserRecommendations,
)

router = APIRouter(prefix="/v1", tags=["recommendations"], dependencies=PERSONAL)


@router.post(
    "/recommendations/batch",
    response_model=BatchRecommendationResponse,
    responses=problem_responses(404),
)
def batch_recommendations(
    ctx: Ctx, body: BatchRecommendationRequest
) -> BatchRecommendationResponse:
    """Top-k for each user id, in the order given (a repeated id is answered each time).
    Each list is the one GET /v1/users/{user_id}/recommendations gives: fresh events
    count, an unknown user gets the cold-start answer. 413 when the users times k exceed
    the limits; 404 for unknown ids in `exclude`."""
    check_k(ctx.settings, body.k, ("body",))
    n = len(body.user_ids)
    if n > ctx.settings.max_batch:
        raise ProblemError(413, f"{n} users in one request; the limit is {ctx.settings.max_batch}")
    if n * body.k > MAX_BATCH_ROWS:
        raise ProblemError(
            413,
            f"{n} users x k={body.k} is {n * body.k:,} items; the limit is "
            f"{MAX_BATCH_ROWS:,} per request: send fewer users or a smaller k",
        )
    live = ctx.hub.get(body.model)  # this reference serves the whole batch
    check_fields(live, body.fields, ("body", "fields"))
    cold = ctx.cold_start_model()
    policy = ctx.exploration_for(live.name)
    ranked_k = candidates_to_rank(policy, body.k, ctx.settings.exploration_pool)
    batch_id = uuid.uuid4().hex
    results = []
    for n_user, user_id in enumerate(body.user_ids):
        query = RecQuery(
            user_id=user_id,
            k=ranked_k if body.rerank is None else max(ranked_k, DEFAULT_POOL),
            filters=body.filters or None,
            exclude=body.exclude or None,
            exclude_seen=body.exclude_seen,
        )
        fresh = ctx.fresh_history(user_id)
        ranked = recommend(live, query, fresh, cold=cold)
        if body.rerank is not None:  # re-ranked to the candidates the policy draws from
            ranked = reranked(ranked, body.rerank, ranked_k, user_id, fresh)
        result, propensities = draw_list(policy, ranked, body.k, ctx.bandit)
        items = [
            ScoredItem(item_id=i, score=s)
            for i, s in zip(result.item_ids, result.scores, strict=True)
        ]
        if body.fields and items:
            found = fields_of(result.live, result.item_ids, body.fields)
            for item, values in zip(items, found, strict=True):
                item.fields = values
        request_id = f"{batch_id[:24]}-{n_user}"
        ctx.log_served(
            request_id, result.live, result.item_ids, propensities, policy.label, user_id=user_id
        )
        used = result.live
        ctx.metrics.recommendations.labels(used.name, used.version, str(result.cold_start)).inc()
        results.append(
            UserRecommendations(
                user_id=user_id,
                items=items,
                model=used.name,
                version=used.version,
                cold_start=result.cold_start,
                request_id=request_id,
            )
        )
    return BatchRecommendationResponse(results=results)
