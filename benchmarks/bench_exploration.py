"""What exploration adds to a request: the time to draw a list of k from the model's ranked
candidates (`serving.exploration.draw_list`, fresh generator included), per policy and pool
size. Prints the median and 99th percentile in microseconds.

    python benchmarks/bench_exploration.py --repeats 20000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lmrec.feedback.exploration import parse_policy
from lmrec.serving.exploration import draw_list
from lmrec.serving.recommend import RecResult


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=20_000)
    parser.add_argument("-k", type=int, default=10)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print("| policy | candidates | p50 µs | p99 µs |")
    print("|---|---:|---:|---:|")
    for spec in ("greedy", "epsilon:0.1", "softmax:0.5"):
        policy = parse_policy(spec)
        for pool in (20, 200):
            scores = sorted(rng.normal(size=pool).tolist(), reverse=True)
            ranked = RecResult([f"i{j}" for j in range(pool)], scores, None, False)  # type: ignore[arg-type]
            times = np.empty(args.repeats)
            for r in range(args.repeats):
                start = time.perf_counter_ns()
                draw_list(policy, ranked, args.k)
                times[r] = time.perf_counter_ns() - start
            p50, p99 = np.percentile(times / 1000, [50, 99])
            print(f"| {spec} | {pool} | {p50:.1f} | {p99:.1f} |")


if __name__ == "__main__":
    main()
