"""DELETE /v1/users/{user_id}: forget a user everywhere the service keeps them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from lmrec.serving.routes.deps import ADMIN, Ctx
from lmrec.serving.schemas import ForgetResponse

# The strongest key the service has guards this route: an admin key (LMREC_API_KEYS).
router = APIRouter(prefix="/v1", tags=["users"], dependencies=ADMIN)


@router.delete("/users/{user_id}", response_model=ForgetResponse)
def forget_user(
    ctx: Ctx, user_id: Annotated[str, Path(min_length=1, max_length=256)]
) -> ForgetResponse:
    """Forget a user: their events and the served lists they asked for or acted on are
    deleted from the store, their training history, stored sequence and user vectors are
    removed from every live model, and the deletion is recorded in the audit table as a
    keyed hash of the id (no data). Later retrains from the store leave them out, and
    models loaded later (restarts, promotions) forget them on load. Item parameters keep
    what they learned from the user until the next retrain. Forgetting an unknown user
    is not an error; it is recorded all the same."""
    return ForgetResponse.model_validate(ctx.forget_user(user_id))
