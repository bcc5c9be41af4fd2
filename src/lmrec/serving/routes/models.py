"""GET /v1/models, promotion and rollback (admin, atomic swap)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse

from lmrec.experiment.promotion import PromotionRefused, check_candidate
from lmrec.serving.problems import problem
from lmrec.serving.routes.deps import ADMIN, READ, Ctx
from lmrec.serving.routes.problem_docs import problem_responses
from lmrec.serving.schemas import ModelsResponse, ModelVersion, PromoteResponse

router = APIRouter(prefix="/v1/models", tags=["models"])
#: a registry name (lmrec.store.registry); another string is refused with 400
ModelName = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


@router.get("", response_model=ModelsResponse, dependencies=READ)
def list_models(ctx: Ctx) -> ModelsResponse:
    """Every registered version, which is live, and which is loaded in this server."""
    loaded = ctx.hub.snapshot()
    versions = []
    for info in ctx.registry.list():
        live = loaded.get(info.name)
        versions.append(
            ModelVersion(
                name=info.name,
                version=info.version,
                model=info.model,
                live=info.live,
                loaded=live is not None and live.version == info.version,
                registered=info.registered,
                metrics=info.metrics,
                fingerprint=info.fingerprint,
                privacy=info.privacy,
                exploration=ctx.exploration_for(info.name).label if info.live else None,
            )
        )
    default = ctx.hub.default
    return ModelsResponse(
        default=default.name,
        default_source=default.source,
        default_live=default.name in loaded,
        versions=versions,
        load_errors=ctx.hub.load_errors,
    )


@router.post(
    "/{name}/versions/{version}/promote",
    response_model=PromoteResponse,
    dependencies=ADMIN,
    responses=problem_responses(404, 409),
)
def promote(
    ctx: Ctx, name: ModelName, version: str, force: bool = False
) -> PromoteResponse | JSONResponse:
    """Check the version against the live one (catalogue and user coverage, usable scores,
    NDCG@10 on held-out interactions), load it fully, then make it live; requests in flight
    finish on the old one. A version that fails a check is refused with 409 listing the
    checks, unless `force=true`; a version that does not load is refused (409) even then."""
    report = check_candidate(ctx.registry, name, version)
    report.require_loads()  # 409 naming the reason, whatever `force` says
    if not report.passed and not force:
        checks = [c.to_dict() for c in report.checks]
        return problem(409, str(PromotionRefused(report)), errors=checks)
    live, previous = ctx.hub.promote(name, version)
    return PromoteResponse(
        name=name,
        version=live.version,
        previous=previous,
        model=live.kind,
        checks=[c.to_dict() for c in report.checks],
        forced=not report.passed,
    )


@router.post(
    "/{name}/rollback",
    response_model=PromoteResponse,
    dependencies=ADMIN,
    responses=problem_responses(404, 409),
)
def rollback(ctx: Ctx, name: ModelName) -> PromoteResponse:
    """Make the previously live version live again (409 when there is none, or when it
    does not load)."""
    before = ctx.hub.snapshot().get(name)
    live = ctx.hub.rollback(name)
    return PromoteResponse(
        name=name,
        version=live.version,
        previous=before.version if before is not None else None,
        model=live.kind,
    )
