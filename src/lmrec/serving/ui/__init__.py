"""The web dashboard at /ui: live models with promote and rollback, live figures from the
service's own metrics, comparison reports with their charts, and a try-it page.

static/uPlot.* is uPlot 1.6.32 (the `uplot` npm package's dist files, MIT licence in
static/uPlot.LICENSE), vendored unchanged: 50 kB, no dependencies, nothing to build."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from lmrec.serving.ui.figures import FigureHistory
from lmrec.serving.ui.pages import HERE, router

__all__ = ["install_ui"]

STATIC_PATH = "/ui/static"


class _StaticAssets:
    """The package's static files, counted in the metrics under one route (a mount is
    not a route, so without this every asset would count as unmatched)."""

    path = STATIC_PATH

    def __init__(self) -> None:
        self.files = StaticFiles(directory=HERE / "static")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["route"] = self
        await self.files(scope, receive, send)


def install_ui(app: FastAPI) -> None:
    """Add the pages and their static assets (the charting library, uPlot, is served from
    this package: no CDN, nothing to build)."""
    app.state.ui_figures = FigureHistory()
    app.include_router(router)
    app.mount(STATIC_PATH, _StaticAssets(), name="ui-static")
