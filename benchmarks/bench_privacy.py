"""NDCG@10 against the privacy budget: the hybrid model (or SASRec) trained with DP-SGD
(one user as the unit, lmrec.training.private) at each epsilon, and without privacy as
the reference (epsilon = inf), on MovieLens (ratio split, seed 42, tested once on the test part; no
tuning on validation, which would spend privacy too). Prints one line per run and
writes the plot.

    python benchmarks/bench_privacy.py --data ml-100k --out docs/privacy_epsilon.png
    python benchmarks/bench_privacy.py --data ml-1m --epsilons 8,3,1 \
        --out docs/privacy_epsilon_ml1m.png
    python benchmarks/bench_privacy.py --model sasrec --epsilons 8 --epochs 10 --lr 0.003 \
        --set max_len=50 --set privacy.per_user=50 --out /tmp/privacy_sasrec.png
"""

from __future__ import annotations

import argparse
import math
import os
import time
from pathlib import Path
from typing import Any

from lmrec.core.settings_files import parse_set
from lmrec.data import load_dataset
from lmrec.data.splitters import make_split
from lmrec.evaluation import evaluate
from lmrec.models.registry import create_model


def run(
    split: Any, name: str, settings: dict[str, Any], epsilon: float | None
) -> tuple[float, float, float, float]:
    """(NDCG@10 on test, epsilon spent, seconds, NDCG@10 on validation). The validation
    figure is for choosing settings on a later run: reading it spends privacy that the
    accountant does not count."""
    values = dict(settings)
    if epsilon is not None:
        values["privacy.epsilon"] = epsilon
    started = time.perf_counter()
    model = create_model(name, values).fit(split.train)
    seconds = time.perf_counter() - started
    res = evaluate(model, split.test, exclude=[split.train, split.valid], ks=(10,),
                   metrics=["ndcg@10"])  # fmt: skip
    valid = evaluate(model, split.valid, exclude=[split.train], ks=(10,), metrics=["ndcg@10"])
    spent = model.privacy_["epsilon"] if model.privacy_ else math.inf
    ndcg, valid_ndcg = res.summary()["ndcg@10"], valid.summary()["ndcg@10"]
    return float(ndcg), float(spent), seconds, float(valid_ndcg)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="ml-100k")
    parser.add_argument("--model", default="hybrid", choices=["hybrid", "sasrec"])
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="more model settings (e.g. max_len=50)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("docs/privacy_epsilon.png"))
    parser.add_argument("--epsilons", default="1,3,8")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--factors", type=int, default=32)
    parser.add_argument("--id-dropout", type=float, default=0.3)
    parser.add_argument("--users-per-step", type=int, default=128)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--max-grad-norm", type=float, default=0.25)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    data = load_dataset(args.data)
    split = make_split(data, "ratio", seed=42)
    settings: dict[str, Any] = {
        "epochs": args.epochs,
        "lr": args.lr,
        "threads": args.threads,
        "privacy.users_per_step": args.users_per_step,
        "privacy.max_grad_norm": args.max_grad_norm,
    }
    if args.model == "hybrid":
        settings.update(factors=args.factors, id_dropout=args.id_dropout)
    settings.update(parse_set(args.set))
    rows = []
    print(f"settings: {settings}", flush=True)
    for eps in [None, *(float(e) for e in args.epsilons.split(","))]:
        if eps is None:  # the reference: the same model and epochs, not private
            reference = {k: v for k, v in settings.items() if not k.startswith("privacy.")}
            ndcg, spent, seconds, valid_ndcg = run(split, args.model, reference, None)
        else:
            ndcg, spent, seconds, valid_ndcg = run(split, args.model, settings, eps)
        rows.append((eps, ndcg, spent, seconds))
        shown = "inf" if eps is None else f"{eps:g}"
        load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"{args.data} epsilon={shown} spent={spent:.3f} ndcg@10={ndcg:.4f} "
              f"valid_ndcg@10={valid_ndcg:.4f} seconds={seconds:.0f} load={load}",
              flush=True)  # fmt: skip
    reference_ndcg = rows[0][1]
    for eps, ndcg, _, _ in rows[1:]:
        print(f"epsilon={eps:g}: {100 * (1 - ndcg / reference_ndcg):.1f}% below the "
              "non-private NDCG@10")  # fmt: skip
    plot(rows, args)


def plot(rows: list[tuple[float | None, float, float, float]], args: argparse.Namespace) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    private = [r for r in rows if r[0] is not None]
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot([r[0] for r in private], [r[1] for r in private], "o-", label="DP-SGD (user level)")
    ax.axhline(rows[0][1], color="grey", ls="--", label="not private (epsilon = inf)")
    ax.axhline(0.85 * rows[0][1], color="grey", ls=":", label="85% of not private")
    ax.set_xscale("log")
    ax.set_xticks([r[0] for r in private], [f"{r[0]:g}" for r in private])
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.set_xlabel("epsilon (delta = 1 / users)")
    ax.set_ylabel("NDCG@10 (test)")
    ax.set_title(f"{args.model} on {args.data}: accuracy against privacy")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
