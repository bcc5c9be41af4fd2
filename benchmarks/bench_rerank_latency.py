"""Latency of two-stage ranking in the service: k=10 from the retriever's top 100.

    nice -n 10 .venv/bin/python benchmarks/bench_rerank_latency.py --threads 1

Trains `rerank` (EASE retriever, `ctr` ranker, ALS and content as signals: the
configuration of docs/benchmarks.md) and EASE alone on the ml-100k 8:1:1
training part, registers both, and sends GET /v1/users/{id}/recommendations?k=10 to the
real app in this process (FastAPI's TestClient: routing, validation, the model and JSON,
no network), one request at a time for --requests users drawn with replacement. Prints
p50, p90 and p99 per model and the in-process `model.recommend` time beside them.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def percentiles(seconds: list[float]) -> str:
    ms = np.asarray(seconds) * 1000.0
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return f"p50 {p50:6.1f} ms  p90 {p90:6.1f} ms  p99 {p99:6.1f} ms  (n={len(ms)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--candidates", type=int, default=100)
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    from fastapi.testclient import TestClient

    from lmrec.data import load_dataset
    from lmrec.data.splitters import make_split
    from lmrec.models.registry import create_model
    from lmrec.serving.app import create_app
    from lmrec.serving.settings import ServeSettings
    from lmrec.store.registry import ModelRegistry

    split = make_split(load_dataset("ml-100k"), "ratio", seed=42)
    models = {
        "ease": create_model("ease", {"reg": 300, "threads": args.threads}),
        "rerank": create_model(
            "rerank",
            {
                "retriever_config": {"reg": 300},
                "signals": ["als", "content"],
                "item_ids": False,
                "candidates": args.candidates,
                "epochs": args.epochs,
                "threads": args.threads,
            },
        ),
    }
    key = "bench-key-0123456789abcdef"
    rng = np.random.default_rng(0)
    users = rng.choice(split.train.user_map.ids, size=args.requests)
    with tempfile.TemporaryDirectory() as tmp:
        registry = ModelRegistry(Path(tmp) / "registry")
        for name, model in models.items():
            started = time.perf_counter()
            model.fit(split.train, split.valid)
            print(f"{name}: fitted in {time.perf_counter() - started:.1f} s")
            registry.register(model, name)
        settings = ServeSettings(
            home=Path(tmp),
            registry=registry.root,
            db=f"sqlite:///{Path(tmp) / 'events.db'}",
            api_keys=[key],
            default_model="ease",
            registry_poll_seconds=0,
        )
        auth = {"Authorization": f"Bearer {key}"}
        with TestClient(create_app(settings)) as client:
            for name, model in models.items():
                for user in users[:10]:  # warm-up: first calls build caches
                    client.get(f"/v1/users/{user}/recommendations?k=10&model={name}", headers=auth)
                served, direct = [], []
                for user in users:
                    started = time.perf_counter()
                    r = client.get(
                        f"/v1/users/{user}/recommendations?k=10&model={name}", headers=auth
                    )
                    served.append(time.perf_counter() - started)
                    assert r.status_code == 200, r.text
                    started = time.perf_counter()
                    model.recommend(str(user), k=10)
                    direct.append(time.perf_counter() - started)
                print(f"{name:7s} service   {percentiles(served)}")
                print(f"{name:7s} in-process {percentiles(direct)}")


if __name__ == "__main__":
    main()
