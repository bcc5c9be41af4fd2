"""GET /v1/explanations: why an item suits a user."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from lmrec.serving.explain import explain
from lmrec.serving.routes.deps import PERSONAL, Ctx
from lmrec.serving.routes.problem_docs import problem_responses
from lmrec.serving.schemas import ExplanationResponse, Id

router = APIRouter(prefix="/v1", tags=["explanations"], dependencies=PERSONAL)


@router.get("/explanations", response_model=ExplanationResponse, responses=problem_responses(404))
def explanation(
    ctx: Ctx,
    user_id: Annotated[Id, Query()],
    item_id: Annotated[Id, Query()],
    model: str | None = None,
    top: Annotated[int, Query(ge=1, le=50)] = 5,
) -> ExplanationResponse:
    """The user's history items most similar to the item, attributes it shares with
    them, and the model's own score and rank for it. It lists the user's history, so it
    needs a read key (unless the server's read_access is "open")."""
    live = ctx.hub.get(model)
    found = explain(live, item_id, user_id=user_id, history=ctx.fresh_history(user_id), top=top)
    return ExplanationResponse(**found, user_id=user_id, model=live.name, version=live.version)
