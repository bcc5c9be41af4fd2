"""GET /v1/items/{item_id}/similar and POST /v1/items (catalogue additions)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from lmrec.errors import UnknownIdError
from lmrec.serving.item_fields import check_fields, fields_of, parse_fields
from lmrec.serving.limits import check_k
from lmrec.serving.problems import ProblemError
from lmrec.serving.routes.deps import READ, WRITE, Ctx, PathId
from lmrec.serving.routes.problem_docs import problem_responses
from lmrec.serving.schemas import (
    MAX_K,
    ItemsRequest,
    ItemsResponse,
    ScoredItem,
    SimilarResponse,
)

router = APIRouter(prefix="/v1/items", tags=["items"])


@router.get(
    "/{item_id}/similar",
    response_model=SimilarResponse,
    dependencies=READ,
    responses=problem_responses(404),
)
def similar(
    ctx: Ctx,
    item_id: PathId,
    k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
    model: str | None = None,
    fields: Annotated[
        str | None, Query(max_length=2000, description="item fields to include: title,genres")
    ] = None,
) -> SimilarResponse:
    """Items most like this one (the model's item vectors, else co-occurrence)."""
    check_k(ctx.settings, k, ("query",))
    live = ctx.hub.get(model)
    asked = parse_fields(fields)
    check_fields(live, asked, ("query", "fields"))
    if not live.knows_item(item_id):
        if ctx.store.known_items([item_id]):
            raise UnknownIdError(
                f"item {item_id!r} is in the catalogue but model '{live.name}' has not been "
                "trained on it yet; it has no similar items until the model is retrained"
            )
        raise UnknownIdError(f"unknown item id {item_id!r}")
    found, scores = live.similar_items(item_id, k)
    values = fields_of(live, found, asked) if asked else [None] * len(found)
    return SimilarResponse(
        item_id=item_id,
        items=[
            ScoredItem(item_id=i, score=s, fields=f)
            for i, s, f in zip(found, scores, values, strict=True)
        ],
        model=live.name,
        version=live.version,
    )


@router.post("", response_model=ItemsResponse, dependencies=WRITE)
def add_items(ctx: Ctx, body: ItemsRequest) -> ItemsResponse:
    """Add or replace catalogue items (text and attributes). Models that can take new
    items by their text make them recommendable and searchable at once ("added"); the
    others will know them after retraining ("pending")."""
    if len(body.items) > ctx.settings.max_batch:
        raise ProblemError(
            413, f"{len(body.items)} items in one request; the limit is {ctx.settings.max_batch}"
        )
    rows = [item.model_dump() for item in body.items]
    return ItemsResponse.model_validate(ctx.add_items(rows))
