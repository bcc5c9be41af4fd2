"""A server killed with SIGKILL mid-stream loses no acknowledged event and stores none
twice when the client retries what it did not see acknowledged."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from live_server import free_port, start_cli_server
from serving_toys import AUTH, KEY, toy_dataset
from sqlalchemy import func, select

from lmrec.events.schema import events
from lmrec.events.store import EventStore
from lmrec.models.baseline.popularity import PopularityRecommender
from lmrec.store.registry import ModelRegistry

BATCH = 20
BATCHES = 60


class Sender(threading.Thread):
    """Sends numbered batches in order, retrying each until it is acknowledged."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.acked: set[str] = set()
        self.sent: set[str] = set()
        self.failures = 0
        self.new_total = 0
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=5.0) as client:
            for b in range(BATCHES):
                batch = [
                    {"event_id": f"b{b}-{j}", "user_id": f"u{j % 7}", "item_id": f"i{1 + j % 6}",
                     "type": "click"}
                    for j in range(BATCH)
                ]  # fmt: skip
                self.sent.update(e["event_id"] for e in batch)
                while not self.stop.is_set():
                    try:
                        r = client.post(f"{self.url}/v1/events", json=batch, headers=AUTH)
                    except httpx.HTTPError:
                        r = None
                    if r is not None and r.status_code == 200:
                        self.acked.update(e["event_id"] for e in batch)
                        self.new_total += r.json()["new"]
                        break
                    self.failures += 1
                    time.sleep(0.05)


@pytest.mark.timeout(240)
def test_sigkill_mid_stream_loses_no_acknowledged_event(tmp_path: Path, db_url: str) -> None:
    registry = ModelRegistry(tmp_path / "registry")
    registry.register(PopularityRecommender().fit(toy_dataset()), "pop")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    server = start_cli_server(registry.root, db_url, port, KEY, tmp_path, log)
    sender = Sender(url)
    try:
        sender.start()
        deadline = time.monotonic() + 60
        while len(sender.acked) < 10 * BATCH and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(sender.acked) >= 10 * BATCH, log.read_text()
        server.kill()  # SIGKILL: no shutdown handler runs
        server.wait(timeout=30)
        killed_at = len(sender.acked)
        time.sleep(0.5)  # the client keeps trying against a dead port
        server = start_cli_server(registry.root, db_url, port, KEY, tmp_path, log)
        sender.join(timeout=120)
        assert not sender.is_alive(), "sender did not finish after the restart"
    finally:
        sender.stop.set()
        server.kill()
        server.wait(timeout=30)
    assert killed_at < BATCHES * BATCH, "the kill came after the stream had ended"
    assert sender.failures > 0, "no request failed, so the kill was not mid-stream"
    store = EventStore(db_url)
    with store.engine.connect() as conn:
        stored = conn.execute(select(events.c.event_id)).scalars().all()
        rows = conn.execute(select(func.count()).select_from(events)).scalar_one()
    store.close()
    assert sender.acked == sender.sent  # every batch was eventually acknowledged
    assert set(stored) == sender.acked  # every acknowledged event is stored ...
    assert rows == len(set(stored)) == BATCHES * BATCH  # ... and none twice
    assert sender.new_total <= BATCHES * BATCH
