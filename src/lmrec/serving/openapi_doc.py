"""The OpenAPI document, completed with every answer the server gives.

FastAPI documents a route's success and a 422 in its own shape. This server answers
every error as `application/problem+json` (serving.problems), and some answers come from
outside the route: keys (401, 403), the body limit (413), admission control (429) and the
event store (503). Those are added here by rule, each route's own (404, 409) are declared
on the route, and the limits that depend on settings (the largest k) are written in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from lmrec.serving.routes.problem_docs import problem_response
from lmrec.serving.schemas import Problem, ValidationProblem
from lmrec.serving.settings import ServeSettings

_METHODS = ("get", "post", "put", "patch", "delete")


def install_openapi(app: FastAPI, settings: ServeSettings) -> None:
    """Replace `app.openapi` by the completed document (built once, then cached)."""
    app.openapi = _builder(app, settings)  # type: ignore[method-assign]


def _builder(app: FastAPI, settings: ServeSettings) -> Callable[[], dict[str, Any]]:
    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                routes=app.routes,
            )
            complete(doc, settings)
            app.openapi_schema = doc
        return app.openapi_schema

    return build


def complete(doc: dict[str, Any], settings: ServeSettings) -> None:
    """Add the problem answers and schemas, and the settings' limits, to `doc` in place."""
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for model in (Problem, ValidationProblem):
        found = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(found.pop("$defs", {}))
        schemas[model.__name__] = found
    for path, item in doc.get("paths", {}).items():
        for method in _METHODS:
            if method in item:
                _complete_operation(path, item[method], settings)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    for schema in schemas.values():
        _cap_k(schema.get("properties", {}), settings.max_k)


def _complete_operation(path: str, op: dict[str, Any], settings: ServeSettings) -> None:
    responses = op.setdefault("responses", {})
    params = op.get("parameters", [])
    statuses: set[int] = set()
    if path.startswith("/v1/"):
        # any key rule (401/403), a LmrecError (400), admission control (429), the store
        statuses |= {400, 401, 403, 429, 503}
    if params or "requestBody" in op:
        statuses.add(422)
    if "requestBody" in op:
        statuses |= {400, 413}
    for status in statuses:
        responses.setdefault(str(status), {})
    # Every error is a problem body; FastAPI's own entries (its 422 shape, an empty
    # application/json beside a route's declared problem) are not what the server sends.
    for key in list(responses):
        if key.isdigit() and int(key) >= 400:
            responses[key] = problem_response(int(key))
    op["responses"] = dict(sorted(responses.items()))
    for param in params:
        if param.get("name") == "k":
            _cap_k({"k": param.get("schema", {})}, settings.max_k)


def _cap_k(properties: dict[str, Any], max_k: int) -> None:
    k = properties.get("k")
    if isinstance(k, dict) and "maximum" in k:
        k["maximum"] = max_k
        k["description"] = f"number of items (1..{max_k} on this server)"
