"""Promoting and rolling back while a client sends requests in a loop: zero failures,
and every answer comes whole from one version."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest
from live_server import ThreadServer
from serving_toys import AUTH, READ_AUTH, make_settings

from lmrec.serving.app import create_app

# the cold-start answer tells the versions apart: v1 ranks i1 and i2 (tied) first, v2 i3
FIRST_ITEMS = {"1": {"i1", "i2"}, "2": {"i3"}}


class Reader(threading.Thread):
    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.ok = 0
        self.failures: list[str] = []
        self.versions: set[str] = set()

    def run(self) -> None:
        with httpx.Client(timeout=10.0, headers=READ_AUTH) as client:
            while not self.stop.is_set():
                try:
                    r = client.get(f"{self.url}/v1/users/stranger/recommendations?k=3")
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                    continue
                if r.status_code != 200:
                    self.failures.append(f"{r.status_code}: {r.text}")
                    continue
                body = r.json()
                if body["items"][0]["item_id"] not in FIRST_ITEMS[body["version"]]:
                    self.failures.append(f"mixed answer: {body}")
                self.versions.add(body["version"])
                self.ok += 1


@pytest.mark.timeout(120)
def test_promotion_while_serving_fails_no_request(registry_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(registry_dir, f"sqlite:///{tmp_path / 'events.db'}")
    with ThreadServer(create_app(settings)) as server:
        readers = [Reader(server.url) for _ in range(2)]
        for reader in readers:
            reader.start()
        with httpx.Client(base_url=server.url, headers=AUTH, timeout=30.0) as admin:
            for round_ in range(6):
                time.sleep(0.2)  # let the readers run against each version
                if round_ % 2 == 0:
                    r = admin.post("/v1/models/pop/versions/2/promote")
                else:
                    r = admin.post("/v1/models/pop/rollback")
                assert r.status_code == 200, r.text
                expected = "2" if round_ % 2 == 0 else "1"
                assert r.json()["version"] == expected
                now = admin.get("/v1/users/stranger/recommendations?k=1").json()
                assert now["version"] == expected  # the swap is visible at once
                assert now["items"][0]["item_id"] in FIRST_ITEMS[expected]
        for reader in readers:
            reader.stop.set()
            reader.join(timeout=30)
    assert all(not r.failures for r in readers), [r.failures[:3] for r in readers]
    assert sum(r.ok for r in readers) > 20
    assert set().union(*(r.versions for r in readers)) == {"1", "2"}
