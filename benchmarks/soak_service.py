"""Soak: the service under mixed load for a long while, a promotion every 30 s; memory
and database growth over time.

    .venv/bin/python benchmarks/soak_service.py                        # 10 minutes
    .venv/bin/python benchmarks/soak_service.py --duration 120 --rate 20

The server is the service of bench_service_load.py (ml-100k-shaped data, models pop and
als; pop registered twice so that promotions swap between two versions) in a child
process on 127.0.0.1, with the served log capped (--served-max-rows) as an operator would
configure it. The client sends, open loop at --rate requests a second:
  55%  GET /v1/users/{id}/recommendations (read key)
  15%  POST /v1/events, 5 events (write key)
  10%  GET /v1/items/{id}/similar
  10%  POST /v1/recommendations with a history of 5 items
  10%  POST /v1/recommendations/batch, 5 users (read key)
and every --promote-every seconds promotes the other pop version (admin key). Every
--sample seconds it records the server's resident memory, the database files' size, and
the rows of the events and served tables. It prints the samples, then one summary line:
failures by status, latency, and growth of each measure in the first and second half.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parent))
from bench_service_load import build_ml100k, start_server  # noqa: E402

KEYS = {
    "LMREC_API_KEYS": "soak-admin-key-0123456789",
    "LMREC_WRITE_KEYS": "soak-write-key-0123456789",
    "LMREC_READ_KEYS": "soak-read-key-0123456789",
}


def bearer(var: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[var]}"}


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def store_state(db: Path) -> dict[str, Any]:
    with sqlite3.connect(db, timeout=30) as conn:
        events = conn.execute("SELECT count(*) FROM lmrec_events").fetchone()[0]
        served = conn.execute("SELECT count(*) FROM lmrec_served").fetchone()[0]
    size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
    return {"events": events, "served_rows": served, "db_mb": round(size / 1e6, 2)}


async def soak(url: str, pid: int, db: Path, args: argparse.Namespace) -> dict[str, Any]:
    import httpx
    import numpy as np

    rng = np.random.default_rng(0)
    users = [str(u) for u in range(943)]
    items = [str(i) for i in range(1682)]
    statuses: dict[str, int] = {}
    latencies: list[float] = []
    samples: list[dict[str, Any]] = []
    promotions: list[str] = []
    n_event = 0
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)

    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30.0) as client:

        def pick(seq: list[str], n: int) -> list[str]:
            return [seq[int(i)] for i in rng.integers(0, len(seq), n)]

        async def one() -> None:
            nonlocal n_event
            roll = rng.random()
            user = pick(users, 1)[0]
            t0 = time.perf_counter()
            try:
                if roll < 0.55:
                    r = await client.get(
                        f"/v1/users/{user}/recommendations", headers=bearer("LMREC_READ_KEYS")
                    )
                elif roll < 0.70:
                    events = []
                    for item in pick(items, 5):
                        n_event += 1
                        events.append(
                            {"event_id": f"soak-{n_event}", "user_id": user, "item_id": item}
                            | {"type": "view"}
                        )
                    r = await client.post(
                        "/v1/events", json={"events": events}, headers=bearer("LMREC_WRITE_KEYS")
                    )
                elif roll < 0.80:
                    r = await client.get(f"/v1/items/{pick(items, 1)[0]}/similar")
                elif roll < 0.90:
                    r = await client.post("/v1/recommendations", json={"history": pick(items, 5)})
                else:
                    r = await client.post(
                        "/v1/recommendations/batch",
                        json={"user_ids": pick(users, 5)},
                        headers=bearer("LMREC_READ_KEYS"),
                    )
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] = statuses.get(type(exc).__name__, 0) + 1
                return
            latencies.append(time.perf_counter() - t0)
            statuses[str(r.status_code)] = statuses.get(str(r.status_code), 0) + 1

        async def promote_loop(stop: float) -> None:
            version = "2"
            while time.monotonic() + args.promote_every < stop:
                await asyncio.sleep(args.promote_every)
                r = await client.post(
                    f"/v1/models/pop/versions/{version}/promote",
                    params={"force": "true"},
                    headers=bearer("LMREC_API_KEYS"),
                )
                promotions.append(f"{version}:{r.status_code}")
                version = "1" if version == "2" else "2"

        async def sample_loop(stop: float, start: float) -> None:
            while time.monotonic() < stop:
                state = await asyncio.to_thread(store_state, db)
                row = {"t_s": round(time.monotonic() - start), "rss_mb": round(rss_mb(pid), 1)}
                samples.append(row | state)
                print(json.dumps(samples[-1]), flush=True)
                await asyncio.sleep(args.sample)

        start = time.monotonic()
        stop = start + args.duration
        background = [
            asyncio.create_task(promote_loop(stop)),
            asyncio.create_task(sample_loop(stop, start)),
        ]
        tasks = []
        n = int(args.rate * args.duration)
        t_start = time.perf_counter()
        for i in range(n):
            # always yield, even when behind: the sampling and promotion loops must run
            await asyncio.sleep(max(0.0, t_start + i / args.rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
        await asyncio.gather(*background)
        await asyncio.sleep(2.5)  # the served log is flushed every second
        final = {"t_s": round(time.monotonic() - start), "rss_mb": round(rss_mb(pid), 1)}
        samples.append(final | store_state(db))
        print(json.dumps(samples[-1]), flush=True)

    ms = np.asarray(latencies) * 1000
    half = len(samples) // 2

    def growth(key: str) -> list[float]:
        first, mid, last = samples[0][key], samples[half][key], samples[-1][key]
        return [round(mid - first, 2), round(last - mid, 2)]

    return {
        "duration_s": args.duration,
        "rate": args.rate,
        "requests": n,
        "statuses": statuses,
        "promotions": promotions,
        "p50_ms": round(float(np.percentile(ms, 50)), 1),
        "p99_ms": round(float(np.percentile(ms, 99)), 1),
        "rss_mb_first_last_max": [
            samples[0]["rss_mb"],
            samples[-1]["rss_mb"],
            max(s["rss_mb"] for s in samples),
        ],
        "growth_first_half_second_half": {
            k: growth(k) for k in ("rss_mb", "db_mb", "served_rows", "events")
        },
        "final": samples[-1],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=600.0, help="seconds of load")
    parser.add_argument("--rate", type=float, default=30.0, help="requests per second")
    parser.add_argument("--promote-every", type=float, default=30.0, help="seconds")
    parser.add_argument("--sample", type=float, default=10.0, help="seconds between samples")
    parser.add_argument("--served-max-rows", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads (server)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/lmrec_soak"))
    args = parser.parse_args()

    os.environ.update(KEYS)
    os.environ["LMREC_SERVED_MAX_ROWS"] = str(args.served_max_rows)
    os.environ["LMREC_SERVED_PRUNE_SECONDS"] = "10"
    shutil.rmtree(args.workdir, ignore_errors=True)
    root = args.workdir / "registry"
    build_ml100k(root, None)
    from lmrec.models.baseline.popularity import PopularityRecommender
    from lmrec.store.registry import ModelRegistry

    registry = ModelRegistry(root)
    live = registry.live_version("pop")
    assert live is not None
    # a second pop version, the same model refitted, for promotions to swap between
    second = PopularityRecommender().fit(_data_of(registry, "pop"))
    registry.register(second, "pop")
    proc, url = start_server(root, args.threads)
    try:
        summary = asyncio.run(soak(url, proc.pid, args.workdir / "events.db", args))
        print(json.dumps(summary), flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _data_of(registry: Any, name: str) -> Any:
    """The training data of a registered model, rebuilt from its saved history."""
    import pandas as pd

    from lmrec.data.dataset import from_frame
    from lmrec.models.artifacts import load_model

    model = load_model(registry.version_path(name, registry.live_version(name)))
    rows, cols = model.history_.nonzero()
    frame = pd.DataFrame(
        {
            "user_id": model.user_map.to_ids(rows),
            "item_id": model.item_map.to_ids(cols),
        }
    )
    return from_frame(frame)


if __name__ == "__main__":
    main()
