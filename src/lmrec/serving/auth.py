"""API keys: `Authorization: Bearer KEY` on write and admin endpoints (and on reads when
the settings ask for it). Keys are compared in constant time."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from lmrec.serving.problems import ProblemError

_bearer = HTTPBearer(auto_error=False, description="an API key from LMREC_API_KEYS")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def _check(request: Request, credentials: HTTPAuthorizationCredentials | None) -> None:
    keys: list[str] = request.app.state.ctx.settings.api_keys
    if not keys:
        raise ProblemError(
            403,
            "this server has no API keys configured, so write and admin endpoints are "
            "closed; start it with LMREC_API_KEYS=... (or `lmrec serve --api-key ...`)",
        )
    if credentials is None:
        raise ProblemError(
            401,
            "this endpoint needs an API key: send `Authorization: Bearer KEY`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    given = credentials.credentials.encode()
    # compare against every key (no early exit) so timing says nothing about which matched
    matched = False
    for key in keys:
        matched |= hmac.compare_digest(given, key.encode())
    if not matched:
        raise ProblemError(403, "the API key is not valid for this server")


def require_key(request: Request, credentials: Credentials) -> None:
    """Dependency of write and admin endpoints."""
    _check(request, credentials)


def require_read_key(request: Request) -> None:
    """Dependency of read endpoints: a key only when `read_requires_key` is set. It reads
    the header itself, so that open reads (the default) cost nothing per request."""
    if request.app.state.ctx.settings.read_requires_key:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        given = None
        if scheme.lower() == "bearer" and token.strip():
            given = HTTPAuthorizationCredentials(scheme="Bearer", credentials=token.strip())
        _check(request, given)
