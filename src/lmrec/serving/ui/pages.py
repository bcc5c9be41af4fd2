"""The dashboard at /ui: server-rendered pages over the same service.

Pages read what the server knows (registry, live models, metrics, reports on disk) and
render it; every action a page offers (promote, rollback, recommendations, search) is a
call to the public API from the browser, with the key the user typed sent as
`Authorization: Bearer KEY`, exactly as any other client sends it. The pages hold no
powers of their own.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from lmrec.errors import LmrecError
from lmrec.search import supports_text_search
from lmrec.serving.auth import key_scope
from lmrec.serving.context import ServiceContext
from lmrec.serving.item_fields import field_names
from lmrec.serving.problems import ProblemError
from lmrec.serving.ui import reports
from lmrec.serving.ui.figures import FigureHistory

HERE = Path(__file__).parent
#: the cookie the key form sets (path /ui), read only when reads need a key
KEY_COOKIE = "lmrec_key"
templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(prefix="/ui", include_in_schema=False)


def _ctx(request: Request) -> ServiceContext:
    return request.app.state.ctx


def _reads_allowed(request: Request) -> bool:
    """Whether this browser may see the pages: always, unless the server needs a key for
    reads; then the key form's cookie must hold a valid key (compared in constant time)."""
    settings = _ctx(request).settings
    if settings.read_access != "key":
        return True
    return key_scope(settings, request.cookies.get(KEY_COOKIE, "")) is not None


def _page(request: Request, template: str, active: str, **values: Any) -> HTMLResponse:
    if not _reads_allowed(request):
        return templates.TemplateResponse(
            request, "key_needed.html", {"active": active}, status_code=401
        )
    return templates.TemplateResponse(request, template, {"active": active, **values})


def _reports_root(request: Request) -> Path:
    return Path(_ctx(request).settings.reports).expanduser()


@router.get("")
def home() -> RedirectResponse:
    return RedirectResponse("/ui/models", status_code=307)


@router.get("/models", response_class=HTMLResponse)
def models_page(request: Request) -> HTMLResponse:
    ctx = _ctx(request)
    loaded = ctx.hub.snapshot()
    groups: dict[str, list[dict[str, Any]]] = {}
    for info in ctx.registry.list():
        live = loaded.get(info.name)
        groups.setdefault(info.name, []).append(
            {
                "version": info.version,
                "model": info.model,
                "live": info.live,
                "serving": live is not None and live.version == info.version,
                "registered": info.registered,
                "metrics": info.metrics,
            }
        )
    return _page(
        request,
        "models.html",
        "models",
        groups=groups,
        default=ctx.hub.default.name,
        load_errors=ctx.hub.load_errors,
        writes_open=bool(ctx.settings.api_keys),
    )


@router.get("/metrics", response_class=HTMLResponse)
def metrics_page(request: Request) -> HTMLResponse:
    return _page(request, "metrics.html", "metrics")


@router.get("/data/metrics")
def metrics_data(request: Request) -> JSONResponse:
    """The figures the metrics page polls (JSON)."""
    if not _reads_allowed(request):
        raise ProblemError(401, "reads need an API key on this server: enter it on the page")
    ctx = _ctx(request)
    history: FigureHistory = request.app.state.ui_figures
    return JSONResponse(history.figures(ctx.metrics, ctx.metrics_state()))


@router.get("/reports", response_class=HTMLResponse)
def reports_page(request: Request) -> HTMLResponse:
    root = _reports_root(request)
    return _page(request, "reports.html", "reports", root=root, found=reports.list_reports(root))


@router.get("/reports/{name}", response_class=HTMLResponse)
def report_page(request: Request, name: str) -> HTMLResponse:
    if not _reads_allowed(request):
        return _page(request, "report.html", "reports")
    path = reports.report_dir(_reports_root(request), name)
    return _page(
        request,
        "report.html",
        "reports",
        name=name,
        body=reports.report_html(path),
        charts=reports.charts_of(path),
        files=[f for f in reports.FILES if (path / f).is_file()],
    )


@router.get("/reports/{name}/files/{file}")
def report_file(request: Request, name: str, file: str) -> FileResponse:
    if not _reads_allowed(request):
        raise ProblemError(401, "reads need an API key on this server: enter it on the page")
    return FileResponse(reports.report_file(_reports_root(request), name, file))


@router.get("/try", response_class=HTMLResponse)
def try_page(request: Request) -> HTMLResponse:
    ctx = _ctx(request)
    live = ctx.hub.snapshot()
    fields: list[str] = []
    # no default model live: the page still offers the models that are
    with contextlib.suppress(LmrecError):
        fields = field_names(ctx.hub.get(None))
    searchable = [name for name, m in sorted(live.items()) if supports_text_search(m.model)]
    return _page(
        request,
        "try.html",
        "try",
        models=sorted(live),
        default=ctx.hub.default.name,
        searchable=searchable,
        shown_field="title" if "title" in fields else (fields[0] if fields else ""),
    )
