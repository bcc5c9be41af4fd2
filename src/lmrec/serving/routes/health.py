"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from lmrec.serving.problems import ProblemError
from lmrec.serving.routes.deps import READ, Ctx

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(ctx: Ctx) -> dict[str, Any]:
    """Ready when the event store answers and at least one model is live."""
    try:
        ctx.store.ping()
    except SQLAlchemyError as exc:
        raise ProblemError(503, f"the event store does not answer ({type(exc).__name__})") from None
    live = ctx.hub.snapshot()
    if not live:
        raise ProblemError(
            503, "no model is live yet: promote one with `lmrec models promote NAME VERSION`"
        )
    return {"status": "ready", "models": {name: m.version for name, m in sorted(live.items())}}


@router.get("/metrics", dependencies=READ)
def metrics(ctx: Ctx) -> Response:
    """Prometheus text format."""
    return Response(generate_latest(ctx.metrics.registry), media_type=CONTENT_TYPE_LATEST)
