"""API keys with scopes: `Authorization: Bearer KEY`, compared in constant time.

Three scopes, each including the ones below it:
- admin (LMREC_API_KEYS): promotion and rollback, and everything else;
- write (LMREC_WRITE_KEYS): events and catalogue items, and every read;
- read (LMREC_READ_KEYS): reads, those that reveal a user's events included.

Reads come in two kinds. A personal read names a user (their recommendations, an
explanation listing their history, a search leaning toward their history): it reveals
what the user did, so it needs a key unless `read_access` is "open". Other reads (similar
items, item details, searches and recommendations from a history the caller sends, the
model list) are open unless `read_access` is "key".
"""

from __future__ import annotations

import hmac
from enum import IntEnum
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from lmrec.serving.problems import ProblemError
from lmrec.serving.settings import ServeSettings

_bearer = HTTPBearer(auto_error=False, description="an API key (admin, write or read scope)")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


class Scope(IntEnum):
    """What a key may do; a higher scope includes the lower ones."""

    READ = 1
    WRITE = 2
    ADMIN = 3


def key_scope(settings: ServeSettings, given: str) -> Scope | None:
    """The scope of a key, or None when no configured key matches. Every configured key
    is compared (no early exit), so timing says nothing about which one matched."""
    found: Scope | None = None
    token = given.encode()
    for scope, keys in (
        (Scope.READ, settings.read_keys),
        (Scope.WRITE, settings.write_keys),
        (Scope.ADMIN, settings.api_keys),
    ):
        for key in keys:
            if hmac.compare_digest(token, key.encode()) and (found is None or scope > found):
                found = scope
    return found


def _any_keys(settings: ServeSettings) -> bool:
    return bool(settings.api_keys or settings.write_keys or settings.read_keys)


def _token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def check_scope(request: Request, needed: Scope, what: str) -> None:
    """401 without a key, 403 with a key that is unknown or below `needed`."""
    settings: ServeSettings = request.app.state.ctx.settings
    if not _any_keys(settings):
        raise ProblemError(
            403,
            f"this server has no API keys configured, so {what} is closed; start it with "
            "LMREC_API_KEYS=... (or `lmrec serve --api-key ...`)",
        )
    token = _token(request)
    if token is None:
        raise ProblemError(
            401,
            f"{what} needs an API key: send `Authorization: Bearer KEY`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    scope = key_scope(settings, token)
    if scope is None:
        raise ProblemError(403, "the API key is not valid for this server")
    if scope < needed:
        raise ProblemError(
            403,
            f"{what} needs a key of {needed.name.lower()} scope; this key has "
            f"{scope.name.lower()} scope",
        )


def require_admin(request: Request, _: Credentials) -> None:
    """Dependency of promotion and rollback (`_` declares the bearer scheme in /docs)."""
    check_scope(request, Scope.ADMIN, "this endpoint")


def require_write(request: Request, _: Credentials) -> None:
    """Dependency of event and catalogue writes."""
    check_scope(request, Scope.WRITE, "this endpoint")


def require_read_key(request: Request) -> None:
    """Dependency of reads that reveal nothing about a user: a key only when
    `read_access` is "key". It reads the header itself, so open reads cost nothing."""
    if request.app.state.ctx.settings.read_access == "key":
        check_scope(request, Scope.READ, "reading from this server")


def require_personal_read(request: Request, _: Credentials) -> None:
    """Dependency of reads that always name a user."""
    check_personal_read(request)


def check_personal_read(request: Request) -> None:
    """For a request that names a user: a read key unless `read_access` is "open"."""
    if request.app.state.ctx.settings.read_access != "open":
        check_scope(request, Scope.READ, "a request naming a user_id (it reveals their history)")


def require_metrics_access(request: Request) -> None:
    access = request.app.state.ctx.settings.metrics_access
    if access == "off":
        raise ProblemError(404, "metrics are not served here (LMREC_METRICS_ACCESS=off)")
    if access == "key":
        check_scope(request, Scope.READ, "/metrics")
