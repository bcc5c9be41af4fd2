"""Every error answers as an RFC 7807 problem body that says what was wrong.

User errors (bad JSON, wrong types, out-of-range values, unknown ids, LmrecError) are
4xx with the reason; only a real bug reaches the catch-all, which logs the traceback and
answers a bare 500 without it.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from lmrec.errors import LmrecError

log = logging.getLogger("lmrec.serving")
PROBLEM_JSON = "application/problem+json"
#: seconds a client should wait before sending again what the event store could not take
STORE_RETRY_AFTER = 5


class ProblemError(Exception):
    """Raised by the service's own code to answer with a given status and detail."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers


def problem(
    status: int,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    try:
        title = HTTPStatus(status).phrase
    except ValueError:
        title = "Error"
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    body["detail"] = detail
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def _where(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        kind, rest = parts[0], parts[1:]
        return f"{kind} {'.'.join(rest)}" if rest else kind
    return ".".join(parts)


def validation_problem(exc: RequestValidationError) -> JSONResponse:
    errors = []
    for err in exc.errors():
        if err.get("type") == "json_invalid":
            reason = err.get("ctx", {}).get("error", "malformed JSON")
            return problem(400, f"the request body is not valid JSON ({reason})")
        where = _where(tuple(err.get("loc", ())))
        errors.append({"field": where, "message": err.get("msg", "invalid"), "type": err["type"]})
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
    if len(errors) > 5:
        detail += f"; and {len(errors) - 5} more"
    return problem(422, detail or "invalid request", errors=errors)


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_problem(exc)

    @app.exception_handler(LmrecError)
    async def _lmrec(_: Request, exc: LmrecError) -> JSONResponse:
        return problem(exc.status_code, str(exc))

    @app.exception_handler(ProblemError)
    async def _problem(_: Request, exc: ProblemError) -> JSONResponse:
        return problem(exc.status, exc.detail, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.method} {request.url.path} (see /docs)"
        elif exc.status_code == 405:
            detail = f"{request.method} is not allowed on {request.url.path} (see /docs)"
        return problem(exc.status_code, detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(SQLAlchemyError)
    async def _store(request: Request, exc: SQLAlchemyError) -> JSONResponse:
        # Database away, disk full, read-only database: a transaction that failed stored
        # nothing of the request (a batch commits whole), so the client sends it again.
        log.error("event store error answering %s %s: %s", request.method, request.url.path, exc)
        stored = "; nothing of this request was stored" if request.method == "POST" else ""
        return problem(
            503,
            f"the event store is unavailable{stored}; retry after {STORE_RETRY_AFTER} seconds",
            headers={"Retry-After": str(STORE_RETRY_AFTER)},
        )

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("internal error answering %s %s", request.method, request.url.path)
        return problem(500, "internal error; the server log has the details")
