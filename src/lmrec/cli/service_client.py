"""Asking a running `lmrec serve` over HTTP (standard library only: a CLI search through
the service must start in well under a second)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pandas as pd

from lmrec.errors import LmrecError


class ServiceError(LmrecError):
    """The service could not be reached or refused the request."""


def call(
    server: str, path: str, body: dict[str, Any], api_key: str | None = None
) -> dict[str, Any]:
    """POST `body` as JSON to SERVER/PATH; the answer's JSON, or a ServiceError carrying
    the service's own explanation (its problem body's `detail`)."""
    url = server.rstrip("/") + path
    headers = {"content-type": "application/json", "accept": "application/json"}
    if api_key:
        headers["authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(url, json.dumps(body).encode(), headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            return json.loads(answer.read())
    except urllib.error.HTTPError as exc:
        try:
            detail = json.loads(exc.read()).get("detail", exc.reason)
        except (ValueError, AttributeError):
            detail = exc.reason
        raise ServiceError(f"{url} answered {exc.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ServiceError(
            f"cannot reach the service at {server} ({reason}); is `lmrec serve` running there?"
        ) from None


def search_on_server(
    server: str,
    query: str,
    k: int,
    *,
    model: str | None,
    user: str | None,
    blend: float,
    api_key: str | None,
) -> pd.DataFrame:
    """POST /v1/search; a frame item_id, score (and title when the model's items have one)."""
    body: dict[str, Any] = {"query": query, "k": k, "fields": ["title"]}
    if model is not None:
        body["model"] = model
    if user is not None:
        body.update(user_id=user, blend=blend)
    try:
        found = call(server, "/v1/search", body, api_key)
    except ServiceError as exc:
        if "unknown item field 'title'" not in str(exc):
            raise
        found = call(server, "/v1/search", {**body, "fields": None}, api_key)  # no titles
    rows = [
        {"item_id": item["item_id"], "score": item["score"], **(item.get("fields") or {})}
        for item in found["items"]
    ]
    return pd.DataFrame(rows, columns=None if rows else ["item_id", "score"])
