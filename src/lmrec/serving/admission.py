"""Admission control: at most N requests of one API route run at once.

One more is answered 429 with Retry-After at once, instead of waiting in a queue that
would make every answer late (at 100 searches a second on two cores the queue grew to a
median of 18 s). Routes count by template, so every user's recommendations share one
count; probes, metrics, docs and the dashboard's pages are not counted.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from fastapi import Request

from lmrec.serving.problems import ProblemError

#: seconds a refused client is asked to wait
RETRY_AFTER = 1


class Admission:
    """Requests running per route. The counts change only on the event loop's thread
    (the dependency below is async), so they need no lock."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.running: dict[str, int] = {}

    def enter(self, route: str) -> None:
        running = self.running.get(route, 0)
        if running >= self.limit:
            raise ProblemError(
                429,
                f"{running} requests to {route} are running, the most this server runs at "
                f"once (LMREC_ROUTE_CONCURRENCY); retry after {RETRY_AFTER}s",
                headers={"Retry-After": str(RETRY_AFTER)},
            )
        self.running[route] = running + 1

    def leave(self, route: str) -> None:
        self.running[route] -= 1


async def admit(request: Request) -> AsyncIterator[None]:
    """App-wide dependency: count the request against its route while it runs."""
    admission: Admission = request.app.state.admission
    if not admission.limit or not request.url.path.startswith("/v1/"):
        yield
        return
    template = getattr(request.scope.get("route"), "path", request.url.path)
    route = f"{request.method} {template}"
    admission.enter(route)
    try:
        yield
    finally:
        admission.leave(route)
