"""Off-policy estimates against the truth in the replay simulator, over many seeds: the
popularity logger shows --impressions lists of 3 per seed (MovieLens-100k, the same world
for every seed), every estimator values the EASE target, and this prints each estimator's
relative error (mean, largest) and how often its 95% interval held the true value.

    python benchmarks/bench_ope_coverage.py --seeds 20 --impressions 100000
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lmrec.data import load_dataset
from lmrec.feedback.simulator import build_world, run_ope


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="ml-100k")
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--impressions", type=int, default=100_000)
    args = parser.parse_args()

    world = build_world(load_dataset(args.data))
    errors: dict[str, list[float]] = {}
    covered: dict[str, int] = {}
    truth = 0.0
    for seed in range(args.seeds):
        start = time.perf_counter()
        sim = run_ope(world, args.impressions, seed=seed)
        truth = sim.truth
        for row in sim.rows:
            name = str(row["estimator"])
            errors.setdefault(name, []).append(float(row["rel_error"]))
            covered[name] = covered.get(name, 0) + int(
                float(row["ci_low"]) <= truth <= float(row["ci_high"])
            )
        print(f"seed {seed}: {time.perf_counter() - start:.1f}s", flush=True)
    print(f"\n{args.data}, {args.impressions:,} lists per seed, {args.seeds} seeds, "
          f"true value {truth:.4f} clicks per list")  # fmt: skip
    print("| estimator | mean rel. error | largest abs. rel. error | interval held the truth |")
    print("|---|---:|---:|---:|")
    for name, errs in errors.items():
        e = np.asarray(errs)
        print(f"| {name} | {e.mean():+.2%} | {np.abs(e).max():.2%} | "
              f"{covered[name]}/{args.seeds} |")  # fmt: skip


if __name__ == "__main__":
    main()
