"""Federated against central training on MovieLens (ratio split, seed 42): fedmf on
Flower's simulation engine (users are clients, FedAvg of item steps) at a few round
counts, with and without DP noise on the updates, beside the same objective trained
centrally (full-batch: every user's exact step every round, in one process) and ALS.

Settings are chosen on validation NDCG@10 only (fedmf's by its in-process engine, the
same arithmetic without Flower; ALS over its compare grid); each row is tested once.
The private rows use settings fixed in advance (no tuning, which would spend privacy),
and each reports the epsilon of its own run. Needs the `federated` extra (.venv-fed).

    OMP_NUM_THREADS=1 .venv-fed/bin/python benchmarks/bench_federated.py --json fed.json
    # the table in docs/benchmarks.md (about 20 minutes on one thread):
    ... bench_federated.py --rounds 50,100,200 --central-rounds 100,200 --noise 0.5,1.0
"""

from __future__ import annotations

import argparse
import itertools
import json
import time
from typing import Any

from lmrec.data import load_dataset
from lmrec.data.splitters import make_split
from lmrec.evaluation import evaluate
from lmrec.evaluation.runner import EvaluationResult
from lmrec.models.base import Recommender
from lmrec.models.registry import create_model


def fit(split: Any, name: str, settings: dict[str, Any]) -> tuple[Recommender[Any], float]:
    started = time.perf_counter()
    model = create_model(name, settings).fit(split.train)
    return model, time.perf_counter() - started


def score(model: Recommender[Any], split: Any, part: str) -> EvaluationResult:
    if part == "valid":
        return evaluate(model, split.valid, exclude=[split.train], ks=(10,), metrics=["ndcg@10"])
    return evaluate(model, split.test, exclude=[split.train, split.valid], ks=(10,),
                    metrics=["ndcg@10"])  # fmt: skip


Picked = tuple[dict[str, Any], Recommender[Any], float]


def pick(split: Any, name: str, base: dict[str, Any], grid: dict[str, list[Any]]) -> Picked:
    """(settings, fitted model, fit seconds) of the grid point with the best validation
    NDCG@10 (printed as it goes)."""
    best: tuple[float, Picked] | None = None
    for values in itertools.product(*grid.values()):
        point = dict(zip(grid, values, strict=True))
        settings = {**base, **point}
        model, seconds = fit(split, name, settings)
        valid = score(model, split, "valid").summary()["ndcg@10"]
        print(f"  valid {name} {point}: {valid:.4f} ({seconds:.1f}s)", flush=True)
        if best is None or valid > best[0]:
            best = (valid, (settings, model, seconds))
    assert best is not None
    return best[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="ml-100k")
    parser.add_argument("--rounds", default="50,100", help="federated round counts")
    parser.add_argument("--central-rounds", default="100", help="the central run's grid")
    parser.add_argument("--clients", type=int, default=100, help="expected clients per round")
    parser.add_argument("--noise", default="1.0", help="noise multipliers of DP rows")
    parser.add_argument("--clip", type=float, default=5.0, help="clip norm of DP rows")
    parser.add_argument("--dp-rounds", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    split = make_split(load_dataset(args.data), "ratio", seed=42)
    n_users = split.train.n_users
    rows: list[dict[str, Any]] = []
    tests: dict[str, EvaluationResult] = {}

    def report(label: str, model: Recommender[Any], seconds: float, **extra: Any) -> None:
        tests[label] = score(model, split, "test")
        wire = getattr(model, "federation_", None) or {}
        privacy = model.privacy_ or {}
        row = {
            "label": label,
            "valid_ndcg@10": round(score(model, split, "valid").summary()["ndcg@10"], 4),
            "test_ndcg@10": round(tests[label].summary()["ndcg@10"], 4),
            "fit_s": round(seconds, 1),
            "rounds": wire.get("rounds"),
            "clients_per_round": wire.get("mean_clients_per_round"),
            "kb_down_per_client_round": _kb(wire.get("bytes_down_per_client_round")),
            "kb_up_per_client_round": _kb(wire.get("bytes_up_per_client_round")),
            "epsilon": round(privacy["epsilon"], 2) if privacy else None,
            **extra,
        }
        rows.append(row)
        print(json.dumps(row), flush=True)

    print("ALS on validation")
    als_grid = {"factors": [32, 64], "regularization": [5.0, 20.0, 50.0]}
    als, model, seconds = pick(split, "als", {"num_threads": args.threads}, als_grid)
    report("als (central)", model, seconds, settings=als)

    print("fedmf (in-process engine) on validation")
    base = {"engine": "local", "clients_per_round": args.clients, "rounds": 100}
    fed = pick(split, "fedmf", base, {"server_lr": [0.5, 1.0], "user_reg": [10.0, 50.0]})[0]
    fed = {k: v for k, v in fed.items() if k != "engine"}

    print("central: every user's exact step every round, on validation")
    full_batch = {**fed, "engine": "local", "clients_per_round": n_users, "neg_ratio": 0}
    central_grid = {"rounds": [int(r) for r in args.central_rounds.split(",")]}
    central, model, seconds = pick(split, "fedmf", full_batch, central_grid)
    report("fedmf objective, central full-batch", model, seconds, settings=central)

    for rounds in [int(r) for r in args.rounds.split(",")]:
        settings = {**fed, "engine": "flower", "rounds": rounds}
        model, seconds = fit(split, "fedmf", {**settings, "threads": args.threads})
        report(f"fedmf on Flower, {rounds} rounds", model, seconds, settings=settings)

    for noise in [float(n) for n in args.noise.split(",")]:
        settings = {**fed, "engine": "flower", "rounds": args.dp_rounds,
                    "noise_multiplier": noise, "clip_norm": args.clip}  # fmt: skip
        model, seconds = fit(split, "fedmf", {**settings, "threads": args.threads})
        report(f"fedmf on Flower, DP noise {noise}", model, seconds, settings=settings)

    print("paired tests over users (test NDCG@10), second minus first")
    labels = list(tests)
    for first, second in [(labels[0], labels[1]), (labels[1], labels[2]), (labels[1], labels[3])]:
        t = tests[first].compare(tests[second], "ndcg@10")
        print(f"  {second} - {first}: {t.mean_diff:+.4f} [{t.diff_ci_low:+.4f}, "
              f"{t.diff_ci_high:+.4f}], t p={t.t_pvalue:.2g}, n={t.n}")  # fmt: skip
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=2)


def _kb(value: float | None) -> float | None:
    return None if value is None else round(value / 1024, 1)


if __name__ == "__main__":
    main()
