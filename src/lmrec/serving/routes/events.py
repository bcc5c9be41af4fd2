"""POST /v1/events: behaviour events, idempotent by event_id, answered after commit."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from fastapi import APIRouter
from fastapi.exceptions import RequestValidationError

from lmrec.serving.problems import ProblemError
from lmrec.serving.routes.deps import WRITE, Ctx
from lmrec.serving.schemas import Event, EventBatch, EventsResponse

router = APIRouter(prefix="/v1", tags=["events"], dependencies=WRITE)


@router.post("/events", response_model=EventsResponse)
def post_events(ctx: Ctx, body: EventBatch) -> EventsResponse:
    """Store a batch of events. Sending the same event_id again stores nothing new, so a
    client may retry a batch whose answer it did not get. The answer comes after the
    batch is committed; `new` counts the events not stored before."""
    if len(body.events) > ctx.settings.max_batch:
        raise ProblemError(
            413, f"{len(body.events)} events in one request; the limit is {ctx.settings.max_batch}"
        )
    now = int(time.time())
    _refuse_future(body.events, now, ctx.settings.event_max_future_seconds)
    rows = list({e.event_id: _row(e, now) for e in reversed(body.events)}.values())
    new = ctx.store.add_events(rows)
    ctx.metrics.events_ingested.inc(new)
    return EventsResponse(received=len(body.events), new=new, duplicates=len(body.events) - new)


def _refuse_future(events: list[Event], now: int, skew: float) -> None:
    """422 naming each event dated further ahead than the allowed clock skew: a
    future-dated event would stay its user's most recent one until that time comes."""
    limit = now + skew
    errors = [
        {
            "loc": ("body", "events", n, "timestamp"),
            "msg": f"{e.timestamp.isoformat()} is in the future, more than {_span(skew)} "
            f"ahead of the server's clock ({datetime.fromtimestamp(now, UTC).isoformat()}); "
            "send the time the event happened",
            "type": "value_error",
        }
        for n, e in enumerate(events)
        if e.timestamp is not None and e.timestamp.timestamp() > limit
    ]
    if errors:
        raise RequestValidationError(errors)


def _span(seconds: float) -> str:
    days = seconds / 86_400
    if days >= 1 and days == int(days):
        return f"{int(days)} day" + ("s" if days > 1 else "")
    return f"{seconds:g} seconds"


def _row(event: Event, now: int) -> dict[str, object]:
    # the schema made the time aware (UTC when it came without a zone)
    ts = now if event.timestamp is None else int(event.timestamp.timestamp())
    return {
        "event_id": event.event_id,
        "user_id": event.user_id,
        "item_id": event.item_id,
        "type": event.type.lower(),
        "value": event.value,
        "timestamp": ts,
        "request_id": event.request_id,
    }
