"""The FastAPI application: `create_app(settings)`; models are loaded once, at start."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.concurrency import run_in_threadpool

import lmrec
from lmrec.core.pseudonyms import id_secret
from lmrec.serving import log_privacy
from lmrec.serving.admission import Admission, admit
from lmrec.serving.context import ServiceContext
from lmrec.serving.docs_pages import install_docs
from lmrec.serving.metrics import ServiceMetrics
from lmrec.serving.middleware import BodyLimitMiddleware, MetricsMiddleware
from lmrec.serving.openapi_doc import install_openapi
from lmrec.serving.problems import install_handlers
from lmrec.serving.routes import (
    batch,
    events,
    explanations,
    health,
    item_details,
    items,
    models,
    recommendations,
    search,
    users,
)
from lmrec.serving.settings import ServeSettings, load_settings
from lmrec.serving.ui import install_ui

log = logging.getLogger("lmrec.serving")


def create_app(settings: ServeSettings | None = None) -> FastAPI:
    """The service for `settings` (default: from LMREC_* environment variables)."""
    settings = settings or load_settings()
    metrics = ServiceMetrics()
    given = settings.id_secret.get_secret_value() if settings.id_secret else None
    log_privacy.install(id_secret(settings.home, given), settings.log_user_ids)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        ctx = await run_in_threadpool(ServiceContext, settings, metrics)
        await run_in_threadpool(ctx.start)
        app.state.ctx = ctx
        live = ", ".join(f"{n}@{m.version}" for n, m in sorted(ctx.hub.snapshot().items()))
        log.info("lmrec serving %s from %s", live or "no models", settings.registry_path)
        try:
            yield
        finally:
            await run_in_threadpool(ctx.stop)

    app = FastAPI(
        title="lmrec",
        version=lmrec.__version__,
        summary="Recommendations, similar items, search and explanations; feedback events in.",
        lifespan=lifespan,
        docs_url=None,  # the pages come from docs_pages, with assets served here
        redoc_url=None,
        openapi_url="/openapi.json" if settings.expose_docs else None,
        dependencies=[Depends(admit)],
    )
    app.state.admission = Admission(settings.route_concurrency)
    if settings.expose_docs:
        install_docs(app)
    install_openapi(app, settings)
    install_handlers(app)
    for module in (
        recommendations,
        batch,
        items,
        item_details,
        search,
        explanations,
        events,
        users,
        models,
        health,
    ):
        app.include_router(module.router)
    install_ui(app)
    # Added innermost first: metrics see every answer, 413s included.
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    return app
