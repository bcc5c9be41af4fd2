"""GET /v1/users/{user_id}/recommendations and POST /v1/recommendations."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from lmrec.core.query import Query as RecQuery
from lmrec.core.rerank import DEFAULT_POOL, SPEC_PATTERN
from lmrec.errors import ConfigError, UnknownIdError, UnsupportedError
from lmrec.serving.auth import check_personal_read
from lmrec.serving.explain import explain_many
from lmrec.serving.exploration import candidates_to_rank, draw_list
from lmrec.serving.item_fields import check_fields, fields_of, parse_fields
from lmrec.serving.limits import check_k
from lmrec.serving.live import LiveModel
from lmrec.serving.recommend import recommend
from lmrec.serving.reranking import reranked
from lmrec.serving.routes.deps import PERSONAL, READ, Ctx, PathId
from lmrec.serving.routes.problem_docs import problem_responses
from lmrec.serving.schemas import (
    MAX_K,
    ExplainStyle,
    Explanation,
    RecommendationRequest,
    RecommendationResponse,
    ScoredItem,
)

router = APIRouter(prefix="/v1", tags=["recommendations"])


@router.get(
    "/users/{user_id}/recommendations",
    response_model=RecommendationResponse,
    dependencies=PERSONAL,
    responses=problem_responses(404),
)
def user_recommendations(
    ctx: Ctx,
    user_id: PathId,
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
    model: str | None = None,
    exclude_seen: bool = True,
    explain: bool = False,
    style: Annotated[
        ExplainStyle,
        Query(
            description="with explain=true: 'template' (fast, the default) or 'text' (adds "
            "one sentence per item from a small language model; cached)"
        ),
    ] = "template",
    fields: Annotated[
        str | None, Query(max_length=2000, description="item fields to include: title,genres")
    ] = None,
    rerank: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=SPEC_PATTERN,
            description="re-rank the top 100: mmr:LAMBDA (varied items) or calibrated:LAMBDA "
            "(the user's genre mix), LAMBDA in [0, 1]",
        ),
    ] = None,
) -> RecommendationResponse:
    """Top-k items for a user (their training history plus fresh events). An unknown user
    gets the cold-start answer, marked `cold_start: true`. With `rerank` the list is
    re-ranked from the model's top 100 (scores stay the model's). The list follows the
    user's history, so it needs a read key (unless the server's read_access is "open")."""
    try:
        body = RecommendationRequest(
            user_id=user_id,
            k=k,
            model=model,
            exclude_seen=exclude_seen,
            explain=explain,
            style=style,
            fields=parse_fields(fields),
            rerank=rerank,
        )
    except ValidationError as exc:  # rules across parameters, e.g. explain with a large k
        raise RequestValidationError(
            [{**err, "loc": ("query", *err["loc"])} for err in exc.errors()]
        ) from None
    check_k(ctx.settings, k, ("query",))
    return answer(ctx, body, fields_at="query")


@router.post(
    "/recommendations",
    response_model=RecommendationResponse,
    dependencies=READ,
    responses=problem_responses(404),
)
def recommendations(
    ctx: Ctx, request: Request, body: RecommendationRequest
) -> RecommendationResponse:
    """Top-k items for a user id and/or an ad-hoc history, with optional attribute
    filters and exclusions. With a user_id it needs a read key (unless the server's
    read_access is "open"); with a history alone it is a read like any other."""
    if body.user_id is not None:
        check_personal_read(request)
    check_k(ctx.settings, body.k, ("body",))
    return answer(ctx, body)


def in_words(live: LiveModel, found: list[dict[str, Any]]) -> list[str]:
    """One generated sentence per template explanation (style=text)."""
    from lmrec.explain.sentences import explain_in_words

    try:
        return explain_in_words(live.model.items, found, threads=live.model.options.threads)
    except ConfigError as exc:  # the llm extra is not installed here
        raise UnsupportedError(f"style=text: {exc}") from None


def answer(
    ctx: Ctx, body: RecommendationRequest, fields_at: str = "body"
) -> RecommendationResponse:
    in_test = ctx.ab_arm(body.user_id, body.model)  # None outside an A/B test
    arm = in_test[0] if in_test else None
    # this reference serves the whole request
    live = in_test[1] if in_test else ctx.hub.get(body.model)
    check_fields(live, body.fields, (fields_at, "fields"))
    history = body.history or []
    ctx.require_items(live, history, "history")
    fresh = ctx.fresh_history(body.user_id)
    policy = ctx.exploration_for(live.name)
    ranked_k = candidates_to_rank(policy, body.k, ctx.settings.exploration_pool)
    query = RecQuery(
        user_id=body.user_id,
        history=history or None,
        k=ranked_k if body.rerank is None else max(ranked_k, DEFAULT_POOL),
        filters=body.filters or None,
        exclude=body.exclude or None,
        exclude_seen=body.exclude_seen,
    )
    ranked = recommend(live, query, fresh, cold=ctx.cold_start_model())
    if body.rerank is not None:  # re-ranked to the candidates the policy draws from
        ranked = reranked(ranked, body.rerank, ranked_k, body.user_id, fresh)
    result, propensities = draw_list(policy, ranked, body.k, ctx.bandit)
    items = [
        ScoredItem(item_id=i, score=s) for i, s in zip(result.item_ids, result.scores, strict=True)
    ]
    if body.explain and items:
        try:
            found = explain_many(
                result.live, result.item_ids, user_id=body.user_id, history=result.history
            )
        except UnknownIdError:
            found = []  # nothing to explain from (an unknown user without history)
        if body.style == "text" and found:
            for exp, text in zip(found, in_words(result.live, found), strict=True):
                exp["text"] = text
        for item, exp in zip(items, found, strict=False):
            item.explanation = Explanation.model_validate(exp)
    if body.fields and items:
        found_fields = fields_of(result.live, result.item_ids, body.fields)
        for item, values in zip(items, found_fields, strict=True):
            item.fields = values
    request_id = uuid.uuid4().hex
    ctx.log_served(
        request_id,
        result.live,
        result.item_ids,
        propensities,
        policy.label,
        arm=arm,
        user_id=body.user_id,
    )
    used = result.live
    ctx.metrics.recommendations.labels(used.name, used.version, str(result.cold_start)).inc()
    return RecommendationResponse(
        items=items,
        model=used.name,
        version=used.version,
        request_id=request_id,
        cold_start=result.cold_start,
        arm=arm,
    )
