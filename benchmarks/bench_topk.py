"""Top-k speed with fair ties against index-order ties.

    .venv/bin/python benchmarks/bench_topk.py --threads 1

lmrec's top_k breaks ties by a seeded random order per user (lmrec.core.ranking): one
int64 key per score carries the tie priority, so one argpartition cuts at k exactly.
The baseline is the earlier rule: argpartition on the float scores (ties at the cut left
to argpartition), then lower index first inside the list. Both run on the same arrays,
interleaved, and the medians of `--repeats` runs are printed with their ratio; "ties"
rows make 84% of each row exactly zero, as item-kNN's score rows are.
"""

from __future__ import annotations

import argparse
import os
import time


def index_order_top_k(scores, k):  # type: ignore[no-untyped-def]
    import numpy as np

    n = scores.shape[1]
    part = np.argpartition(scores, n - k, axis=1)[:, n - k :]
    part_scores = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -part_scores), axis=1)
    return np.take_along_axis(part, order, axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("-k", type=int, default=20)
    args = parser.parse_args()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import numpy as np

    from lmrec.core.ranking import tie_priority, top_k

    rng = np.random.default_rng(0)
    for rows, items in ((2_000, 2_000), (200, 20_000), (40, 100_000)):
        users = np.arange(rows)
        scores = rng.random((rows, items), dtype=np.float32)
        ties = np.where(scores < 0.84, np.float32(0.0), scores)
        for label, data in (("random", scores), ("ties", ties)):
            fair, old = [], []
            for _ in range(args.repeats):
                t0 = time.perf_counter()
                top_k(data, args.k, priority=tie_priority(users, items))
                fair.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                index_order_top_k(data, args.k)
                old.append(time.perf_counter() - t0)
            f, o = float(np.median(fair)), float(np.median(old))
            print(
                f"{rows:>6,} x {items:>7,} {label:6s}: fair ties {f * 1e3:7.1f} ms, "
                f"index order {o * 1e3:7.1f} ms, ratio {f / o:4.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
