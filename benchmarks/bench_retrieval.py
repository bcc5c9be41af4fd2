"""ANN recall@10 against exact search, and single-query latency, on clustered vectors.

    .venv/bin/python benchmarks/bench_retrieval.py                 # 1M x 64, 2 threads
    .venv/bin/python benchmarks/bench_retrieval.py --n 200000 --queries 500

The vectors are random but clustered (items scattered around topic centres; queries
near centres, as user vectors are), which is how real embeddings behave and what makes
HNSW's recall meaningful. Queries are answered one at a time, as the service does.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def clustered(n: int, dim: int, clusters: int, spread: float, seed: int):
    import numpy as np

    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)).astype(np.float32)
    out = np.empty((n, dim), dtype=np.float32)
    step = 200_000  # fill in blocks to bound the temporary memory
    for start in range(0, n, step):
        m = min(step, n - start)
        out[start : start + m] = centres[rng.integers(0, clusters, m)]
        out[start : start + m] += spread * rng.standard_normal((m, dim), dtype=np.float32)
    return out, centres


def percentiles(samples: list[float]) -> dict[str, float]:
    import numpy as np

    ms = np.asarray(samples) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p99_ms": float(np.percentile(ms, 99))}


def timed(search, queries, **kwargs) -> tuple[list, list[float]]:
    found, times = [], []
    for q in queries:
        t0 = time.perf_counter()
        idx, _ = search(q, **kwargs)
        times.append(time.perf_counter() - t0)
        found.append(idx)
    return found, times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--spread", type=float, default=0.35)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--m", type=int, default=32, help="HNSW links per node")
    parser.add_argument("--ef-search", default="16,32,64,128")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--graph", type=Path, help="reuse/save the HNSW graph here")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)

    import faiss
    import numpy as np

    from lmrec.retrieval import HNSWIndex, ItemIndex

    faiss.omp_set_num_threads(args.threads)
    t0 = time.perf_counter()
    vectors, centres = clustered(args.n, args.dim, args.clusters, args.spread, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    queries = centres[rng.integers(0, args.clusters, args.queries)]
    queries = queries + 0.5 * rng.standard_normal(queries.shape, dtype=np.float32)
    print(f"data: {args.n:,} x {args.dim} ({time.perf_counter() - t0:.1f}s)", flush=True)

    exact = ItemIndex(vectors)
    t0 = time.perf_counter()
    truth = np.vstack(
        [exact.search(queries[s : s + 100], args.k)[0] for s in range(0, len(queries), 100)]
    )
    print(f"exact ground truth, batched: {time.perf_counter() - t0:.1f}s", flush=True)
    _, exact_times = timed(exact.search, queries[:100], k=args.k)
    report: dict[str, object] = {
        "n": args.n, "dim": args.dim, "k": args.k, "threads": args.threads,
        "exact_single_query": percentiles(exact_times),
    }  # fmt: skip

    t0 = time.perf_counter()
    if args.graph is not None and args.graph.exists():
        index = HNSWIndex.load(args.graph, vectors)
        report["hnsw_build_s"] = None
    else:
        index = HNSWIndex(vectors, m=args.m, ef_construction=80)
        report["hnsw_build_s"] = round(time.perf_counter() - t0, 1)
        if args.graph is not None:
            index.save(args.graph)
    print(f"hnsw ready: {time.perf_counter() - t0:.1f}s", flush=True)

    rows = []
    for ef in (int(x) for x in args.ef_search.split(",")):
        index.ef_search = ef
        found, times = timed(index.search, queries, k=args.k)
        recall = np.mean(
            [len(np.intersect1d(f, t)) / args.k for f, t in zip(found, truth, strict=True)]
        )
        rows.append({"ef_search": ef, "recall@10": round(float(recall), 4), **percentiles(times)})
        print(json.dumps(rows[-1]), flush=True)
    report["hnsw"] = rows

    index.ef_search = 64
    filtered = {}
    for share in (0.5, 0.05, 0.005):
        allowed = rng.random(args.n) < share
        found, times = timed(index.search, queries[:200], k=args.k, allowed=allowed)
        full = all(len(f) == args.k and allowed[f].all() for f in found)
        filtered[f"{share:.1%} allowed"] = {**percentiles(times), "always_k_allowed": full}
    report["hnsw_filtered_ef64"] = filtered
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
