"""What exploration adds to a request: the time to draw a list of k from the model's ranked
candidates (`serving.exploration.draw_list`, fresh generator included), per policy and pool
size. Prints the median and 99th percentile in microseconds.

For `thompson:2` the draw includes reading the candidates' looks and clicks from the
in-memory copy (filled from an event store holding counts for every candidate); the
Monte Carlo propensity estimate (`PendingChances.resolve`, 256 redraws) runs when the
served log is written, off the request path, and is timed on its own line.

    python benchmarks/bench_exploration.py --repeats 20000
"""

from __future__ import annotations

import argparse
import functools
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from lmrec.events.store import EventStore
from lmrec.feedback.exploration import parse_policy
from lmrec.serving.bandit_state import BanditCounts
from lmrec.serving.exploration import PendingChances, draw_list
from lmrec.serving.recommend import RecResult


def percentiles(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    times = np.empty(repeats)
    for r in range(repeats):
        start = time.perf_counter_ns()
        run()
        times[r] = time.perf_counter_ns() - start
    p50, p99 = np.percentile(times / 1000, [50, 99])
    return float(p50), float(p99)


def counts_for(pools: tuple[int, ...], folder: Path) -> BanditCounts:
    """An event store whose thompson counts cover every candidate (looks and clicks)."""
    store = EventStore(folder / "bench.db")
    rng = np.random.default_rng(1)
    rows = []
    for j in range(max(pools)):
        for n in range(int(rng.integers(1, 20))):
            policy = "thompson:2"
            rows.append((f"r{j}-{n}", f"i{j}", 1, "bench", "1", 0.0, policy, 0.5, None, "u"))
    store.log_served(rows)
    clicked = [r for r in rows if rng.random() < 0.1]
    store.add_events(
        [{"event_id": f"e{n}", "user_id": "u", "item_id": r[1], "type": "click",
          "value": None, "timestamp": 1, "request_id": r[0]} for n, r in enumerate(clicked)]
    )  # fmt: skip
    return BanditCounts(store, refresh_seconds=3600.0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=20_000)
    parser.add_argument("-k", type=int, default=10)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    pools = (20, 100, 200)
    live = SimpleNamespace(name="bench", version="1")
    with tempfile.TemporaryDirectory() as folder:
        counts = counts_for(pools, Path(folder))
        print("| policy | candidates | p50 µs | p99 µs |")
        print("|---|---:|---:|---:|")
        for spec in ("greedy", "epsilon:0.1", "softmax:0.5", "thompson:2"):
            policy = parse_policy(spec)
            for pool in pools:
                scores = sorted(rng.normal(size=pool).tolist(), reverse=True)
                ids = [f"i{j}" for j in range(pool)]
                ranked = RecResult(ids, scores, live, False)  # type: ignore[arg-type]
                draw = functools.partial(draw_list, policy, ranked, args.k, counts)
                p50, p99 = percentiles(draw, args.repeats)
                print(f"| {spec} | {pool} | {p50:.1f} | {p99:.1f} |")
                if policy.learns:
                    pending = draw_list(policy, ranked, args.k, counts)[1]
                    assert isinstance(pending, PendingChances)
                    p50, p99 = percentiles(pending.resolve, max(200, args.repeats // 20))
                    label = f"{spec} propensity estimate (log writer)"
                    print(f"| {label} | {pool} | {p50:.1f} | {p99:.1f} |")
        counts.store.close()


if __name__ == "__main__":
    main()
