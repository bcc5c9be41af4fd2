"""OpenAPI entries for the problem+json answers a route can give."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from lmrec.serving.problems import PROBLEM_JSON

#: the schema of each status's body (422 lists the fields at fault)
_SCHEMA = {422: "ValidationProblem"}
#: headers that come with a status
_HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "`Bearer`: send an API key",
            "schema": {"type": "string"},
        }
    },
    429: {
        "Retry-After": {
            "description": "seconds to wait before retrying",
            "schema": {"type": "integer"},
        }
    },
}


def problem_response(status: int) -> dict[str, Any]:
    """One OpenAPI response: an RFC 7807 problem body (and its headers)."""
    schema = {"$ref": f"#/components/schemas/{_SCHEMA.get(status, 'Problem')}"}
    entry: dict[str, Any] = {
        "description": HTTPStatus(status).phrase,
        "content": {PROBLEM_JSON: {"schema": schema}},
    }
    if status in _HEADERS:
        entry["headers"] = _HEADERS[status]
    return entry


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status answers an RFC 7807 problem body. The
    statuses every route of a kind can give (401/403 for keys, 413 and 429 from the
    middleware, 422 for parameters) are added by `serving.openapi_doc`."""
    return {status: problem_response(status) for status in statuses}
