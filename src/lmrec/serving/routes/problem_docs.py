"""OpenAPI entries for the problem+json answers a route can give."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from lmrec.serving.problems import PROBLEM_JSON
from lmrec.serving.schemas import Problem


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status answers an RFC 7807 problem body."""
    return {
        status: {
            "model": Problem,
            "description": HTTPStatus(status).phrase,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }
