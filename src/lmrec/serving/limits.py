"""Limits that depend on the server's settings, answered like the API's own rules."""

from __future__ import annotations

from fastapi.exceptions import RequestValidationError

from lmrec.serving.settings import ServeSettings


def check_k(settings: ServeSettings, k: int, where: tuple[str, ...]) -> None:
    """422 naming the field when k is above this server's `max_k`. The schema's own
    ceiling (1000) holds everywhere; an operator lowers it, since every served item is a
    row in the served log."""
    if k > settings.max_k:
        message = (
            f"Input should be less than or equal to {settings.max_k} (this server's "
            "largest k, LMREC_MAX_K)"
        )
        raise RequestValidationError(
            [{"type": "less_than_equal", "loc": (*where, "k"), "msg": message, "input": k}]
        )
