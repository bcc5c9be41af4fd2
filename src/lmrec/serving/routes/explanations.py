"""GET /v1/explanations: why an item suits a user."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from lmrec.serving.explain import explain
from lmrec.serving.routes.deps import READ, Ctx
from lmrec.serving.schemas import ExplanationResponse, Id

router = APIRouter(prefix="/v1", tags=["explanations"], dependencies=READ)


@router.get("/explanations", response_model=ExplanationResponse)
def explanation(
    ctx: Ctx,
    user_id: Annotated[Id, Query()],
    item_id: Annotated[Id, Query()],
    model: str | None = None,
    top: Annotated[int, Query(ge=1, le=50)] = 5,
) -> ExplanationResponse:
    """The user's history items most similar to the item, attributes it shares with
    them, and the model's own score and rank for it."""
    live = ctx.hub.get(model)
    found = explain(live, item_id, user_id=user_id, history=ctx.fresh_history(user_id), top=top)
    return ExplanationResponse(**found, user_id=user_id, model=live.name, version=live.version)
