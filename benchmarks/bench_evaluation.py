"""Full-ranking evaluation speed and peak memory on synthetic data.

    .venv/bin/python benchmarks/bench_evaluation.py            # both scenarios
    .venv/bin/python benchmarks/bench_evaluation.py --threads 2 --scenario users
    .venv/bin/python benchmarks/bench_evaluation.py --scores ties   # 84% exact zeros

Each scenario runs in its own process so that its peak memory is its own. The model
returns uniform random scores (generated per chunk), so the time is the evaluation's:
scoring is timed separately and reported beside the total. `--scores ties` makes 84% of
each row exactly zero, as item-kNN's rows are (items no neighbour reaches): the case
where ties decide the list.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

SCENARIOS = {
    # name: (users, items, train items per user, test items per user)
    "users": (100_000, 20_000, 20, 2),
    "items": (20_000, 100_000, 20, 2),
    "small": (6_000, 3_000, 20, 2),
}


def run_scenario(name: str, threads: int, ties: bool) -> None:
    # thread counts are fixed before NumPy loads its BLAS/OpenMP pools
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(threads)
    import resource
    import time

    import numpy as np
    from threadpoolctl import threadpool_limits

    from lmrec.data.dataset import Dataset
    from lmrec.data.idmap import IdMap
    from lmrec.evaluation import evaluate
    from lmrec.models.base import Recommender

    n_users, n_items, n_train, n_test = SCENARIOS[name]

    class RandomScores(Recommender):
        name = "random-scores"

        def _fit(self, train: Dataset, valid: Dataset | None) -> None:
            pass

        def score_users(self, users: np.ndarray) -> np.ndarray:
            rng = np.random.default_rng([self.config.seed, int(users[0])])
            scores = rng.random((len(users), self.n_items), dtype=np.float32)
            if ties:
                scores[scores < 0.84] = 0.0
            return scores

    def interactions(per_user: int, seed: int) -> Dataset:
        rng = np.random.default_rng(seed)
        users = np.repeat(np.arange(n_users), per_user)
        # Zipf-like item popularity, as in real catalogues
        items = (rng.pareto(1.2, len(users)) * n_items / 50).astype(np.int64) % n_items
        return Dataset(
            user_map=user_map,
            item_map=item_map,
            users_idx=users,
            items_idx=items,
            values=np.ones(len(users), dtype=np.float32),
            timestamps=np.zeros(len(users), dtype=np.int64),
        )

    user_map = IdMap(np.arange(n_users), kind="user")
    item_map = IdMap(np.arange(n_items), kind="item")
    train, test = interactions(n_train, 1), interactions(n_test, 2)
    model = RandomScores().fit(train)
    base_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    with threadpool_limits(threads):
        t0 = time.perf_counter()
        result = evaluate(model, test, exclude=[train], ks=(10, 20))
        total = time.perf_counter() - t0
        batch = result.meta["batch_size"]
        t0 = time.perf_counter()
        for start in range(0, n_users, batch):
            model.score_users(np.arange(start, min(start + batch, n_users)))
        scoring = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    scores = n_users * n_items
    print(
        f"{name:6s} {'ties ' if ties else ''}{n_users:>7,} users x {n_items:>7,} items, "
        f"{threads} thread(s): "
        f"evaluate {total:6.2f} s ({scores / total / 1e6:5.0f} M scores/s, "
        f"{n_users / total:7,.0f} users/s; random scoring alone {scoring:5.2f} s), "
        f"batch {batch} users, peak RSS {peak:,.0f} MiB (data and model {base_rss:,.0f} MiB), "
        f"ndcg@10 {result.summary()['ndcg@10']:.5f}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", choices=[*SCENARIOS, "all"], default="all")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--scores", choices=["random", "ties"], default="random")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        run_scenario(args.scenario, args.threads, args.scores == "ties")
        return
    names = ["users", "items"] if args.scenario == "all" else [args.scenario]
    for name in names:
        cmd = [
            sys.executable,
            __file__,
            "--child",
            "--scenario",
            name,
            "--threads",
            str(args.threads),
            "--scores",
            args.scores,
        ]
        subprocess.run(cmd, check=True)


if __name__ == "__main__":
    main()
