"""Text search under a steady request rate: latency, and the share answered 429.

    .venv/bin/python benchmarks/bench_search_load.py                     # every setup
    .venv/bin/python benchmarks/bench_search_load.py --rates 100 --duration 30 --setups int8

A content model is trained once on ml-100k (`lmrec train content --protocol none`, MiniLM
over the film titles) and served by `lmrec serve` in a child process on 127.0.0.1. The
client sends POST /v1/search at a fixed rate (open loop: a slow answer does not slow the
sending) with queries drawn from a pool (--pool distinct texts; the default makes nearly
every query new, so the cache does not help unless a setup asks for a small pool).

Setups (LMREC_* settings of the server):
  queue      no admission control, the model's own encoder (torch), no cache: the server
             as it was, every request waits its turn
  admission  at most 8 searches at once (LMREC_ROUTE_CONCURRENCY=8, the default), more
             answered 429 with Retry-After at once
  int8       admission + queries encoded by the int8 ONNX build of the same MiniLM
             (LMREC_SEARCH_BACKEND=onnx-int8), batched while an encoding runs
  int8-2     int8 with at most 2 searches at once (LMREC_ROUTE_CONCURRENCY=2, one per core)
  cache      int8 + a 1,024-entry query cache, queries from a pool of 50 texts (popular
             searches repeat)
Prints one JSON line per setup and rate: p50/p99 of the answered (200) searches as the
client saw them, the share of 429s, other errors, the server's own p50/p99 over all its
search answers (from its /metrics histogram: time inside the server, without the wait in
the kernel and the client, which a loaded machine makes long), and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LMREC = [sys.executable, "-c", "from lmrec.cli.main import main; main()"]
SETUPS: dict[str, dict[str, str]] = {
    "queue": {
        "LMREC_ROUTE_CONCURRENCY": "0",
        "LMREC_SEARCH_BACKEND": "model",
        "LMREC_QUERY_CACHE_SIZE": "0",
    },
    "admission": {
        "LMREC_ROUTE_CONCURRENCY": "8",
        "LMREC_SEARCH_BACKEND": "model",
        "LMREC_QUERY_CACHE_SIZE": "0",
    },
    "int8": {
        "LMREC_ROUTE_CONCURRENCY": "8",
        "LMREC_SEARCH_BACKEND": "onnx-int8",
        "LMREC_QUERY_CACHE_SIZE": "0",
    },
    "int8-2": {
        "LMREC_ROUTE_CONCURRENCY": "2",
        "LMREC_SEARCH_BACKEND": "onnx-int8",
        "LMREC_QUERY_CACHE_SIZE": "0",
    },
    "cache": {
        "LMREC_ROUTE_CONCURRENCY": "8",
        "LMREC_SEARCH_BACKEND": "onnx-int8",
        "LMREC_QUERY_CACHE_SIZE": "1024",
    },
}
WORDS = (
    "funny",
    "sad",
    "dark",
    "romantic",
    "animated",
    "french",
    "space",
    "war",
    "family",
    "crime",
    "horror",
    "musical",
    "old",
    "quiet",
    "loud",
    "strange",
    "gentle",
    "western",
    "spy",
    "school",
    "island",
    "winter",
    "robot",
    "detective",
    "ghost",
)


def queries(pool: int, seed: int = 0) -> list[str]:
    """`pool` distinct short queries of three to five words."""
    import numpy as np

    rng = np.random.default_rng(seed)
    found: dict[str, None] = {}
    while len(found) < pool:
        words = rng.choice(WORDS, size=int(rng.integers(3, 6)), replace=False)
        found[" ".join(words) + " films"] = None
    return list(found)


def start(registry: Path, work: Path, setup: dict[str, str], threads: int) -> tuple[Any, str]:
    import httpx

    port = 18500 + os.getpid() % 400
    env = {**os.environ, **setup, "OMP_NUM_THREADS": str(threads)}
    env["LMREC_LOG_SERVED"] = "false"
    serve = ["serve", "--registry", str(registry), "--port", str(port)]
    serve += ["--db", f"sqlite:///{work / 'events.db'}", "--log-level", "warning"]
    serve += ["--api-key", "bench-key-0123456789abcdef"]
    proc = subprocess.Popen([*LMREC, *serve], env=env, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
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


async def load(url: str, texts: list[str], rate: float, duration: float) -> dict[str, Any]:
    import httpx
    import numpy as np

    rng = np.random.default_rng(1)
    ok: list[float] = []
    refused: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60.0) as client:

        async def one(text: str) -> None:
            t0 = time.perf_counter()
            try:
                r = await client.post("/v1/search", json={"query": text, "k": 10})
            except httpx.HTTPError as exc:
                errors.append(repr(exc))
                return
            took = time.perf_counter() - t0
            if r.status_code == 200:
                ok.append(took)
            elif r.status_code == 429 and r.headers.get("retry-after"):
                refused.append(took)
            else:
                errors.append(f"{r.status_code}: {r.text[:200]}")

        for text in texts[:10]:  # warm-up, not measured
            await one(text)
        ok.clear()
        refused.clear()
        n = int(rate * duration)
        tasks = []
        start = time.perf_counter()
        for i in range(n):
            # always yield, even when behind: the requests already sent must run
            await asyncio.sleep(max(0.0, start + i / rate - time.perf_counter()))
            text = texts[int(rng.integers(len(texts)))]
            tasks.append(asyncio.create_task(one(text)))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - start
    ms = np.asarray(ok) * 1000
    return {
        "rate": rate,
        "sent": n,
        "ok": len(ok),
        "share_429": round(len(refused) / n, 3),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
        "answered_per_s": round(len(ok) / elapsed, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 1) if len(ms) else None,
        "p99_ms": round(float(np.percentile(ms, 99)), 1) if len(ms) else None,
        "p99_429_ms": round(float(np.percentile(refused, 99)) * 1000, 1) if refused else None,
    }


def server_histogram(url: str) -> dict[float, float]:
    """Cumulative counts of POST /v1/search answers by latency bucket (seconds)."""
    import httpx

    counts: dict[float, float] = {}
    for line in httpx.get(f"{url}/metrics", timeout=30).text.splitlines():
        if line.startswith("lmrec_http_request_duration_seconds_bucket") and (
            'route="/v1/search"' in line
        ):
            le = line.split('le="')[1].split('"')[0]
            counts[float("inf") if le == "+Inf" else float(le)] = float(line.rsplit(" ", 1)[1])
    return counts


def bucket_percentile(before: dict[float, float], after: dict[float, float], q: float) -> Any:
    """The upper bound of the bucket holding the q-th percentile of the answers between
    two scrapes (a histogram gives no finer figure)."""
    edges = sorted(after)
    counts = [after[e] - before.get(e, 0.0) for e in edges]
    if not counts or counts[-1] == 0:
        return None
    for edge, count in zip(edges, counts, strict=True):
        if count >= q / 100 * counts[-1]:
            return edge * 1000 if edge != float("inf") else "over 10 s"
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setups", nargs="*", default=list(SETUPS), choices=list(SETUPS))
    parser.add_argument("--rates", nargs="*", type=float, default=[20.0, 100.0])
    parser.add_argument("--duration", type=float, default=15.0, help="seconds per rate")
    parser.add_argument("--pool", type=int, default=100_000, help="distinct query texts")
    parser.add_argument("--threads", type=int, default=1, help="server BLAS/ONNX threads")
    parser.add_argument("--model", type=Path, help="a trained content model directory")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-search-load-"))
    try:
        model = args.model
        if model is None:
            model = work / "content"
            print("training a content model on ml-100k (once) ...", file=sys.stderr, flush=True)
            train = ["train", "content", "--data", "ml-100k", "--protocol", "none"]
            subprocess.run([*LMREC, *train, "--out", str(model)], check=True)
        registry = work / "registry"
        register = ["models", "register", str(model), "content", "--registry", str(registry)]
        subprocess.run([*LMREC, *register], check=True, stdout=subprocess.DEVNULL)
        print(f"cores: {os.cpu_count()}", file=sys.stderr, flush=True)
        for name in args.setups:
            pool = 50 if name == "cache" else args.pool
            texts = queries(min(pool, 2000) if pool <= 2000 else 2000, seed=len(name))
            if pool > 2000:  # nearly unique queries: numbered variants of the phrases
                texts = [f"{t} {n}" for n in range(pool // 2000 + 1) for t in texts][:pool]
            proc, url = start(registry, work, SETUPS[name], args.threads)
            try:
                for rate in args.rates:
                    before = os.getloadavg()[0]
                    hist0 = server_histogram(url)
                    res = asyncio.run(load(url, texts, rate, args.duration))
                    hist1 = server_histogram(url)
                    res["server_p50_ms_at_most"] = bucket_percentile(hist0, hist1, 50)
                    res["server_p99_ms_at_most"] = bucket_percentile(hist0, hist1, 99)
                    res = {"setup": name, **res, "load_1m_before": round(before, 2)}
                    print(json.dumps(res), flush=True)
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
