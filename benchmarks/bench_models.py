"""Fit time and full-ranking scoring time of the classic models.

    .venv/bin/python benchmarks/bench_models.py --threads 2
    .venv/bin/python benchmarks/bench_models.py --data path/to/ml-100k --models ease,als
    .venv/bin/python benchmarks/bench_models.py --synthetic-only --users 50000 --items 5000

Real data: --data (a directory or file lmrec can read), else ml-100k from the lmrec cache
($LMREC_HOME/datasets/ml-100k, filled by `lmrec data fetch ml-100k`); nothing is
downloaded here. Synthetic data comes from lmrec.data.synthetic.generate.

Scoring time is the time to rank the whole catalogue for every user (training items
excluded, top 10), in batches of --batch users. With --quality, NDCG@10 on a per-user
random 8:1:1 split (train on train, rank the test items with train and valid excluded)
is printed too.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

CLASSIC = ("pop", "itemknn", "userknn", "rp3beta", "ease", "als", "bpr", "mf")


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", help="dataset directory or file (default: cached ml-100k)")
    p.add_argument("--models", default=",".join(CLASSIC), help="comma-separated model names")
    p.add_argument("--threads", type=int, default=2, help="BLAS / OpenMP / implicit threads")
    p.add_argument("--batch", type=int, default=1024, help="users per scoring batch")
    p.add_argument("--quality", action="store_true", help="also print NDCG@10 (8:1:1 split)")
    p.add_argument("--synthetic-only", action="store_true", help="skip the real dataset")
    p.add_argument("--users", type=int, default=20_000, help="synthetic users")
    p.add_argument("--items", type=int, default=5_000, help="synthetic items")
    p.add_argument("--interactions", type=int, default=1_000_000, help="synthetic rows")
    return p.parse_args(argv)


def model_config(name: str, threads: int) -> dict[str, Any]:
    # implicit's models take their thread count in the config; the rest use BLAS threads
    return {"threads": threads} if name in ("als", "bpr") else {}


def load_real(path: str | None) -> Any:
    from lmrec.data.fetch import is_fetched
    from lmrec.data.loading import load_dataset

    if path:
        return load_dataset(path)
    if is_fetched("ml-100k"):
        return load_dataset("ml-100k")
    print("ml-100k is not in the lmrec cache and no --data was given: skipping real data")
    print("  (run `lmrec data fetch ml-100k`, or pass --data DIR)")
    return None


def load_synthetic(args: argparse.Namespace) -> Any:
    try:
        from lmrec.data.synthetic import generate
    except ImportError:
        print("lmrec.data.synthetic is not available: skipping synthetic data")
        return None
    return generate(args.users, args.items, args.interactions, seed=0, with_text=False)


def scoring_seconds(model: Any, batch: int) -> float:
    import numpy as np

    started = time.perf_counter()
    users = np.arange(model.n_users)
    for start in range(0, len(users), batch):
        model.recommend_users(users[start : start + batch], 10)
    return time.perf_counter() - started


def ndcg_at_10(name: str, data: Any, threads: int) -> float:
    from lmrec.data.splitters import random_split
    from lmrec.evaluation import evaluate
    from lmrec.models.registry import create_model

    split = random_split(data, (0.8, 0.1, 0.1), seed=0)
    model = create_model(name, model_config(name, threads)).fit(split.train, split.valid)
    result = evaluate(model, split.test, exclude=[split.train, split.valid], metrics=["ndcg"])
    return result.summary()["ndcg@10"]


def bench(label: str, data: Any, args: argparse.Namespace) -> None:
    from lmrec.errors import LmrecError
    from lmrec.models.registry import create_model

    print(f"\n{label}: {data.n_users} users, {data.n_items} items, {data.n_interactions} rows")
    header = f"{'model':10s} {'fit s':>8s} {'score s':>8s} {'users/s':>10s}"
    print(header + (f" {'ndcg@10':>8s}" if args.quality else ""))
    for name in args.models.split(","):
        model = create_model(name, model_config(name, args.threads))
        try:
            started = time.perf_counter()
            model.fit(data)
            fit_s = time.perf_counter() - started
        except LmrecError as exc:  # e.g. EASE refusing a catalogue too large for memory
            print(f"{name:10s} skipped: {exc}")
            continue
        score_s = scoring_seconds(model, args.batch)
        line = f"{name:10s} {fit_s:8.2f} {score_s:8.2f} {model.n_users / score_s:10.0f}"
        if args.quality:
            line += f" {ndcg_at_10(name, data, args.threads):8.4f}"
        print(line, flush=True)


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    # thread counts are fixed before NumPy loads its BLAS/OpenMP pools
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    from threadpoolctl import threadpool_limits

    print(f"threads: {args.threads}")
    with threadpool_limits(args.threads):
        if not args.synthetic_only:
            real = load_real(args.data)
            if real is not None:
                bench(real.name, real, args)
        synthetic = load_synthetic(args)
        if synthetic is not None:
            bench("synthetic", synthetic, args)


if __name__ == "__main__":
    main(sys.argv[1:])
