"""SASRec on MovieLens-100k in one process and data-parallel on Ray Train workers:
prints validation and test NDCG@10, epochs and seconds per epoch for each run.

Protocol as bench_sasrec.py (leave-one-out by time, full ranking, train + valid as the
test-time history); ID items, so no text encoder runs. Every run gets the same epoch
budget and patience. `--workers 2` compares one process with two workers at
batch 64 each (the same 128 rows per optimizer step) and at batch 128 each (256 a step).

    OMP_NUM_THREADS=1 nice -n 10 python benchmarks/bench_ray_train.py --seeds 42,1
    python benchmarks/bench_ray_train.py --seeds 42 --runs same-step --epochs 25
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

BASE: dict[str, Any] = {
    "item_repr": "id",
    "hidden": 64,
    "dropout": 0.2,
    "max_len": 50,
    "lr": 1e-3,
}


def run(
    split: Any, seed: int, workers: int | None, batch: int, epochs: int, patience: int
) -> dict[str, Any]:
    from lmrec.core.options import FitOptions
    from lmrec.evaluation.runner import evaluate
    from lmrec.models.registry import create_model

    model = create_model(
        "sasrec",
        {**BASE, "seed": seed, "batch_size": batch, "epochs": epochs, "patience": patience},
    )
    options = FitOptions(threads=1)
    started = time.perf_counter()
    if workers is None:
        model.fit(split.train, split.valid, options)
        result = model.training_
        epochs_run, best, per_epoch = (
            result.epochs_run,
            result.best_metric,
            result.seconds_per_epoch,
        )
    else:
        from lmrec.models.ray_train import fit_on_ray

        model, fit = fit_on_ray(model, split.train, split.valid, options, workers=workers)
        epochs_run, best, per_epoch = fit.epochs_run, fit.best_metric, fit.seconds_per_epoch
    total = time.perf_counter() - started
    history = split.train.concat(split.valid)
    test = evaluate(model, split.test, exclude=[split.train, split.valid], history=history)
    return {
        "seed": seed,
        "workers": workers or 1,
        "batch_per_worker": batch,
        "epochs_run": epochs_run,
        "valid_ndcg@10": round(float(best or 0.0), 4),
        "test_ndcg@10": round(float(test.summary()["ndcg@10"]), 4),
        "s_per_epoch": round(per_epoch, 2),
        "total_s": round(total, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", default="42")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--patience", type=int, default=5)
    parser.add_argument(
        "--runs",
        default="one,same-step,double-step",
        help="one: one process, batch 128; same-step: N workers x 128/N; double-step: "
        "N workers x 128",
    )
    args = parser.parse_args()

    from lmrec.cli.common import split_data
    from lmrec.data.loading import load_dataset

    split = split_data(load_dataset("ml-100k"), "loo", 42)
    configs = {
        "one": (None, 128),
        "same-step": (args.workers, 128 // args.workers),
        "double-step": (args.workers, 128),
    }
    runs = [configs[name] for name in args.runs.split(",")]
    for seed in (int(s) for s in args.seeds.split(",")):
        for workers, batch in runs:
            row = run(split, seed, workers, batch, args.epochs, args.patience)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
