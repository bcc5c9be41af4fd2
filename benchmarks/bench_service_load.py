"""Throughput and latency of the HTTP service under a steady request rate.

    .venv/bin/python benchmarks/bench_service_load.py                    # both scenarios
    .venv/bin/python benchmarks/bench_service_load.py --scenario 1m --graph G.faiss
    .venv/bin/python benchmarks/bench_service_load.py --scenario sasrec --model-dir DIR

Scenarios:
  sasrec  an exported SASRec (`lmrec export`, e.g. int8; --model-dir) answering POST
          /v1/recommendations with a history: each request is the last 20 training items
          of a random user, as a new user's history
  ml100k  ml-100k-sized data (943 users, 1,682 items, 100k interactions; the real file
          with --ml100k PATH, else synthetic of that shape), models pop and als
  1m      a synthetic catalogue of 1,000,000 items with 64-d item vectors (clustered, as
          in bench_retrieval.py; --graph reuses the HNSW graph that script saved)

The server is `create_app` under uvicorn in a child process on 127.0.0.1; the client is
async httpx in this process sending GET /v1/users/{id}/recommendations?k=10 at a fixed
rate (open loop: a slow answer does not slow the sending), bounded by --duration and
--max-requests. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
#: a user's recommendations are a personal read: the client sends a read key
READ_KEY = "bench-read-key-0123456789"


# ---- the synthetic 1M-item model (importable by the server child as __main__) ------------
def _bench_dot_class() -> type:
    import numpy as np

    from lmrec.models.base import Recommender

    class BenchDot(Recommender):
        """Fixed user and item vectors; scores are their inner products."""

        name = "bench-dot"
        state_attrs = ("user_factors_", "item_factors_")

        def _fit(self, train: Any, valid: Any) -> None:
            raise NotImplementedError("built from vectors, not fitted")

        def score_users(self, users: np.ndarray) -> np.ndarray:
            return self.user_factors_[users] @ self.item_factors_.T

    return BenchDot


def build_1m(root: Path, n_items: int, n_users: int, graph: Path | None) -> None:
    import numpy as np
    import scipy.sparse as sp

    from lmrec.data.idmap import IdMap
    from lmrec.store.registry import ModelRegistry

    sys.path.insert(0, str(HERE.parent))
    from bench_retrieval import clustered

    items, centres = clustered(n_items, 64, 1000, 0.35, seed=0)  # same as bench_retrieval
    rng = np.random.default_rng(1)
    users = centres[rng.integers(0, len(centres), n_users)]
    users += 0.5 * rng.standard_normal(users.shape, dtype=np.float32)
    model = _bench_dot_class()()
    model.user_factors_, model.item_factors_ = users.astype(np.float32), items
    model.user_map = IdMap((f"u{i}" for i in range(n_users)), kind="user")
    model.item_map = IdMap((f"i{i}" for i in range(n_items)), kind="item")
    rows = np.repeat(np.arange(n_users), 20)
    cols = rng.integers(0, n_items, len(rows))
    model.history_ = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(n_users, n_items)
    )
    version = ModelRegistry(root).register(model, "dot1m")
    if graph is not None and graph.exists():
        shutil.copy(graph, root / "dot1m" / version / "index-hnsw.faiss")


def build_sasrec(root: Path, model_dir: Path) -> list[dict[str, Any]]:
    """Register the exported model as "seq"; request bodies from its users' histories."""
    from lmrec.models.artifacts import load_model
    from lmrec.store.registry import ModelRegistry

    ModelRegistry(root).register(model_dir, "seq")
    model = load_model(model_dir)
    ids = model.item_map.ids  # type: ignore[union-attr]
    return [
        {"history": [str(ids[i]) for i in seq[-20:]], "k": 10, "model": "seq"}
        for seq in model.sequences()  # type: ignore[attr-defined]
        if len(seq)
    ]


def build_ml100k(root: Path, ml100k: Path | None, twins: bool = False) -> list[str]:
    import numpy as np
    import pandas as pd

    from lmrec.data.dataset import from_frame
    from lmrec.models.registry import create_model
    from lmrec.store.registry import ModelRegistry

    if ml100k is not None and ml100k.exists():
        header = 0 if ml100k.suffix == ".inter" else None  # RecBole files carry a header
        df = pd.read_csv(ml100k, sep="\t", header=header).iloc[:, :2]
        df.columns = ["user_id", "item_id"]
    else:  # synthetic data of the same shape, Zipf-like item popularity
        rng = np.random.default_rng(0)
        items = (rng.pareto(1.1, 100_000) * 40).astype(np.int64) % 1682
        df = pd.DataFrame({"user_id": rng.integers(0, 943, 100_000), "item_id": items})
    data = from_frame(df.drop_duplicates())
    registry = ModelRegistry(root)
    names = []
    for name, config in (("pop", {}), ("als", {"factors": 64, "iterations": 10})):
        try:
            model = create_model(name, config)
        except Exception as exc:  # a model not built yet in this checkout is skipped
            print(f"skipping {name}: {exc}", file=sys.stderr)
            continue
        registry.register(model.fit(data), name)
        names.append(name)
        if twins:  # the same fitted model under a second name, for a policy of its own
            registry.register(model, f"{name}-x")
    return names


# ---- server child ---------------------------------------------------------------------------
def serve(root: Path, port: int, db: str) -> None:
    import uvicorn

    from lmrec.models.registry import register
    from lmrec.serving.app import create_app
    from lmrec.serving.settings import load_settings

    globals()["BenchDot"] = _bench_dot_class()
    register("bench-dot", "__main__:BenchDot")
    settings = load_settings(registry=root, db=db, port=port, home=root.parent)
    uvicorn.run(create_app(settings), host="127.0.0.1", port=port, log_level="warning")


def start_server(root: Path, threads: int) -> tuple[subprocess.Popen, str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env[var] = str(threads)
    db = f"sqlite:///{root.parent / 'events.db'}"
    cmd = [sys.executable, str(HERE), "--serve", str(root), "--port", str(port), "--db", db]
    proc = subprocess.Popen(cmd, env=env)
    url = f"http://127.0.0.1:{port}"
    import httpx

    deadline = time.monotonic() + 900  # building or loading a 1M-item index takes a while
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit("server did not become ready")


# ---- load generator -------------------------------------------------------------------------
async def load(
    url: str,
    model: str | list[str],
    users: list[str],
    rate: float,
    duration: float,
    max_requests: int,
    bodies: list[dict[str, Any]] | None = None,
) -> dict[str, Any] | list[dict[str, Any]]:
    """GET each user's recommendations, or with `bodies` POST /v1/recommendations with
    one of them (`users` then holds their positions). With several models, requests
    alternate between them and each gets its own figures (one result each), so two
    policies are compared under the same load at the same moments."""
    import httpx
    import numpy as np

    names = [model] if isinstance(model, str) else model
    rng = np.random.default_rng(0)
    by_model: dict[str, list[float]] = {name: [] for name in names}
    latencies: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=128, max_keepalive_connections=128)
    headers = {"Authorization": f"Bearer {READ_KEY}"}
    async with httpx.AsyncClient(
        base_url=url, limits=limits, timeout=10.0, headers=headers
    ) as client:

        async def one(user: str, model: str = names[0]) -> None:
            t0 = time.perf_counter()
            try:
                if bodies is not None:
                    r = await client.post("/v1/recommendations", json=bodies[int(user)])
                else:
                    r = await client.get(
                        f"/v1/users/{user}/recommendations", params={"k": 10, "model": model}
                    )
                ok = r.status_code == 200 and len(r.json()["items"]) == 10
                if not ok:  # a 429 from admission control, or a wrong answer
                    errors.append(f"{r.status_code}: {r.text[:200]}")
                    return
            except httpx.HTTPError as exc:
                errors.append(repr(exc))
                return
            latencies.append(time.perf_counter() - t0)  # answered lists only
            by_model[model].append(latencies[-1])

        for i, user in enumerate(users[:50]):  # warm-up, not measured
            await one(user, names[i % len(names)])
        latencies.clear()
        errors.clear()
        for kept in by_model.values():
            kept.clear()
        tasks = []
        n = min(max_requests, int(rate * duration))
        start = time.perf_counter()
        for i in range(n):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            user = users[int(rng.integers(len(users)))]
            tasks.append(asyncio.create_task(one(user, names[i % len(names)])))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    if len(names) > 1:
        return [_figures(name, by_model[name], errors, n // len(names), rate / len(names),
                         elapsed) for name in names]  # fmt: skip
    return _figures(names[0], latencies, errors, n, rate, elapsed)


def _figures(
    model: str, latencies: list[float], errors: list[str], n: int, rate: float, elapsed: float
) -> dict[str, Any]:
    import numpy as np

    ms = np.asarray(latencies) * 1000
    return {
        "model": model,
        "target_rate": rate,
        "requests": n,
        "ok": len(latencies),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "throughput_rps": round(len(latencies) / elapsed, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2) if len(ms) else None,
        "p90_ms": round(float(np.percentile(ms, 90)), 2) if len(ms) else None,
        "p99_ms": round(float(np.percentile(ms, 99)), 2) if len(ms) else None,
        "max_ms": round(float(ms.max()), 2) if len(ms) else None,
    }


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), to tell server from client cost."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return float("nan")


def store_size(db: Path) -> dict[str, Any]:
    """Served-log rows and the SQLite files' size (database + write-ahead log), read
    after a pause that lets the server flush its served log."""
    import sqlite3

    time.sleep(2.5)
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT count(*) FROM lmrec_served").fetchone()[0]
    size = sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))
    return {"served_rows": rows, "db_mb": round(size / 1e6, 2)}


def run_scenario(name: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    work = args.workdir / name
    shutil.rmtree(work, ignore_errors=True)
    root = work / "registry"
    t0 = time.perf_counter()
    bodies = None
    if name == "1m":
        build_1m(root, args.items, 10_000, args.graph)
        models, users = ["dot1m"], [f"u{i}" for i in range(10_000)]
    elif name == "sasrec":
        bodies = build_sasrec(root, args.model_dir)
        models, users = ["seq"], [str(i) for i in range(len(bodies))]
    else:
        models = build_ml100k(root, args.ml100k, twins=args.twins)
        users = [str(u) for u in range(1, 944)] if args.ml100k else [str(u) for u in range(943)]
    print(f"[{name}] models built in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    t0 = time.perf_counter()
    proc, url = start_server(root, args.threads)
    print(f"[{name}] server ready in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    try:
        results = []
        if args.twins:  # each model interleaved with its twin, under the same load
            for model in models:
                rows = asyncio.run(
                    load(url, [model, f"{model}-x"], users, args.rate, args.duration,
                         args.max_requests)
                )  # fmt: skip
                assert isinstance(rows, list)
                for row in rows:
                    row["load_average_1m"] = os.getloadavg()[0]
                    results.append({"scenario": name, **row})
                    print(json.dumps(results[-1]), flush=True)
            return results
        for model in models:
            server0, client0 = _cpu_seconds(proc.pid), time.process_time()
            res = asyncio.run(
                load(url, model, users, args.rate, args.duration, args.max_requests, bodies)
            )
            assert isinstance(res, dict)
            per = 1000 / max(res["requests"], 1)
            res["server_cpu_ms_per_request"] = round((_cpu_seconds(proc.pid) - server0) * per, 2)
            res["client_cpu_ms_per_request"] = round((time.process_time() - client0) * per, 2)
            res["load_average_1m"] = os.getloadavg()[0]
            res.update(store_size(work / "events.db"))
            results.append({"scenario": name, **res})
            print(json.dumps(results[-1]), flush=True)
        return results
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=["ml100k", "1m", "sasrec", "both"], default="both")
    parser.add_argument(
        "--model-dir",
        type=Path,
        default=Path("runs/bench-compress/sasrec-onnx-int8"),
        help="an exported model for --scenario sasrec (written by bench_compress.py)",
    )
    parser.add_argument("--rate", type=float, default=200.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load")
    parser.add_argument("--max-requests", type=int, default=10_000)
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--threads", type=int, default=2, help="BLAS/OpenMP threads (server)")
    parser.add_argument("--ml100k", type=Path, help="a u.data / .inter file (tab-separated)")
    parser.add_argument("--graph", type=Path, help="HNSW graph saved by bench_retrieval.py")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/lmrec_bench_service"))
    parser.add_argument(
        "--twins",
        action="store_true",
        help="ml100k: serve each model also as NAME-x and alternate requests between the "
        "two (give NAME-x its own policy, e.g. LMREC_EXPLORATION=als-x=softmax:1)",
    )
    parser.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--db", help=argparse.SUPPRESS)
    parser.add_argument(
        "--served-max-rows", type=int, help="LMREC_SERVED_MAX_ROWS of the server (pruned every 5 s)"
    )
    args = parser.parse_args()
    os.environ.setdefault("LMREC_READ_KEYS", READ_KEY)
    if args.served_max_rows is not None:
        os.environ["LMREC_SERVED_MAX_ROWS"] = str(args.served_max_rows)
        os.environ["LMREC_SERVED_PRUNE_SECONDS"] = "5"
    if args.serve is not None:
        serve(args.serve, args.port, args.db)
        return
    scenarios = ["ml100k", "1m"] if args.scenario == "both" else [args.scenario]
    results = [r for s in scenarios for r in run_scenario(s, args)]
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
