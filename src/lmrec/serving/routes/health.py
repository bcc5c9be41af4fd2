"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from lmrec.serving.auth import require_metrics_access
from lmrec.serving.problems import ProblemError
from lmrec.serving.routes.deps import Ctx
from lmrec.serving.routes.problem_docs import problem_responses

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", responses=problem_responses(503))
def readyz(ctx: Ctx) -> dict[str, Any]:
    """Ready when the event store answers and at least one model is live. `models` are
    the versions served here, `registry` the live versions the registry names; status
    "degraded" when they differ or a version failed to load (`load_errors` says why;
    the server keeps serving what it has and retries)."""
    try:
        ctx.store.ping()
    except SQLAlchemyError as exc:
        raise ProblemError(503, f"the event store does not answer ({type(exc).__name__})") from None
    live = ctx.hub.snapshot()
    errors = ctx.hub.load_errors
    if not live:
        why = "; ".join(f"{name} {error}" for name, error in sorted(errors.items()))
        raise ProblemError(
            503,
            "no model is live yet: promote one with `lmrec models promote NAME VERSION`"
            + (f" (not loaded: {why})" if why else ""),
        )
    sync = ctx.hub.sync_state()
    in_sync = all(s["served"] == s["registry"] for s in sync.values())
    return {
        "status": "ready" if in_sync and not errors else "degraded",
        "models": {name: m.version for name, m in sorted(live.items())},
        "registry": {name: s["registry"] for name, s in sync.items() if s["registry"]},
        "load_errors": errors,
    }


@router.get(
    "/metrics",
    dependencies=[Depends(require_metrics_access)],
    response_class=Response,
    responses={
        200: {
            "description": "Prometheus text exposition format",
            "content": {"text/plain": {"schema": {"type": "string"}}},
        },
        **problem_responses(401, 403, 404),
    },
)
def metrics(ctx: Ctx) -> Response:
    """Prometheus text format. Open, behind any valid key, or off (404), as
    LMREC_METRICS_ACCESS says."""
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)
