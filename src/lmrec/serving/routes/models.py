"""GET /v1/models, promotion and rollback (admin, atomic swap)."""

from __future__ import annotations

from fastapi import APIRouter

from lmrec.serving.routes.deps import READ, WRITE, Ctx
from lmrec.serving.schemas import ModelsResponse, ModelVersion, PromoteResponse

router = APIRouter(prefix="/v1/models", tags=["models"])


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
    "/{name}/versions/{version}/promote", response_model=PromoteResponse, dependencies=WRITE
)
def promote(ctx: Ctx, name: str, version: str) -> PromoteResponse:
    """Load the version fully, then make it live; requests in flight finish on the old one."""
    live, previous = ctx.hub.promote(name, version)
    return PromoteResponse(name=name, version=live.version, previous=previous, model=live.kind)


@router.post("/{name}/rollback", response_model=PromoteResponse, dependencies=WRITE)
def rollback(ctx: Ctx, name: str) -> PromoteResponse:
    """Make the previously live version live again."""
    before = ctx.hub.snapshot().get(name)
    live = ctx.hub.rollback(name)
    return PromoteResponse(
        name=name,
        version=live.version,
        previous=before.version if before is not None else None,
        model=live.kind,
    )
