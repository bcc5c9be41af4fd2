"""Synthetic data generation time and peak memory.

    .venv/bin/python benchmarks/bench_synthetic.py                # 1M and 10M interactions
    .venv/bin/python benchmarks/bench_synthetic.py --sizes 1e6 1e8

Each size runs in its own process so that its peak memory is its own. Users and items grow
with the size (about 20 interactions per user on average).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys


def shape(n: int) -> tuple[int, int]:
    """(users, items) for n interactions."""
    return max(1_000, n // 20), max(2_000, min(200_000, n // 100))


def run_one(n: int, threads: int) -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    import resource
    import time

    from lmrec.data.synthetic import generate

    n_users, n_items = shape(n)
    t0 = time.perf_counter()
    ds = generate(n_users, n_items, n, seed=0)
    seconds = time.perf_counter() - t0
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    print(
        f"{n:>12,} interactions  {n_users:>9,} users  {n_items:>8,} items  "
        f"{seconds:7.2f} s  {n / seconds / 1e6:6.2f} M rows/s  peak {peak_gb:5.2f} GB  "
        f"({ds.n_interactions:,} rows)",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", nargs="+", type=float, default=[1e6, 1e7])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--one", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:
        run_one(int(args.one), args.threads)
        return
    for size in args.sizes:
        cmd = [sys.executable, __file__, "--one", str(size), "--threads", str(args.threads)]
        subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
