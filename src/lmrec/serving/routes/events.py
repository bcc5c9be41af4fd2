"""POST /v1/events: behaviour events, idempotent by event_id, answered after commit."""

from __future__ import annotations

import time
from datetime import UTC

from fastapi import APIRouter

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
    rows = list({e.event_id: _row(e, now) for e in reversed(body.events)}.values())
    new = ctx.store.add_events(rows)
    ctx.metrics.events_ingested.inc(new)
    return EventsResponse(received=len(body.events), new=new, duplicates=len(body.events) - new)


def _row(event: Event, now: int) -> dict[str, object]:
    ts = now
    if event.timestamp is not None:
        stamp = event.timestamp
        if stamp.tzinfo is None:  # a time without zone is read as UTC
            stamp = stamp.replace(tzinfo=UTC)
        ts = int(stamp.timestamp())
    return {
        "event_id": event.event_id,
        "user_id": event.user_id,
        "item_id": event.item_id,
        "type": event.type.lower(),
        "value": event.value,
        "timestamp": ts,
        "request_id": event.request_id,
    }
