"""Cold start and accuracy of the language-model models beside the classic ones.

    .venv/bin/python benchmarks/bench_cold_start.py --threads 1
    .venv/bin/python benchmarks/bench_cold_start.py --protocols cold-items --seeds 42,0,1
    .venv/bin/python benchmarks/bench_cold_start.py --data path/to/ml-100k --no-tune

Three protocols, each through lmrec.experiment.compare (every model tuned on the
validation part with its own small grid, fit on train, tested once, full ranking):
- cold-items: 10% of the items held out entirely (half for validation, half for test);
  users are ranked the items no training interaction touched (random and popularity are
  the floor: popularity knows nothing about a new item; tfidf is the text baseline);
- cold-users: 10% of users keep only 3 training interactions;
- ratio: per-user random 8:1:1 split.
Each language-model model (content, hybrid, fusion) is compared with the best of the
others (classic models and tfidf) by a paired t-test, a Wilcoxon test and a bootstrap
interval of the per-user NDCG@10 difference. `fusion` fuses content + hybrid under
cold-items and ease + hybrid otherwise, weights chosen on validation.

Data: --data, else ml-100k from the lmrec cache (`lmrec data fetch ml-100k`). Nothing is
downloaded here. The text model is the bundled all-MiniLM-L6-v2; embeddings are cached.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

DEFAULT_MODELS = {
    "cold-items": "random,pop,tfidf,content,hybrid,fusion",
    "cold-users": "pop,ease,tfidf,content,hybrid",
    "ratio": "ease,als,hybrid,fusion",
}
#: what `fusion` combines under each protocol: where nothing is known of an item but its
#: text, the two text models; otherwise the best classic model and the hybrid
FUSION_MEMBERS = {
    "cold-items": ["content", "hybrid"],
    "cold-users": ["ease", "hybrid"],
    "ratio": ["ease", "hybrid"],
}
LANGUAGE_MODELS = {"content", "hybrid", "fusion"}


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", default="ml-100k", help="dataset name or path (default: ml-100k)")
    p.add_argument("--protocols", default="cold-items,cold-users,ratio")
    p.add_argument("--seeds", default="42", help="comma-separated split seeds")
    p.add_argument("--threads", type=int, default=1, help="BLAS / torch / implicit threads")
    p.add_argument("--no-tune", action="store_true", help="default hyper-parameters only")
    p.add_argument("--json", help="write every row (metrics, configs, trials) here")
    for protocol, models in DEFAULT_MODELS.items():
        p.add_argument(f"--{protocol}-models", default=models, help=f"models under {protocol}")
    return p.parse_args(argv)


def settings(threads: int, protocol: str) -> dict[str, dict[str, Any]]:
    hybrid = {"threads": threads}
    members = FUSION_MEMBERS[protocol]
    return {
        "hybrid": hybrid,
        "fusion": {"members": members, "member_configs": {"hybrid": hybrid}},
        "als": {"threads": threads},
        "bpr": {"threads": threads},
    }


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    from lmrec.data.loading import load_dataset
    from lmrec.data.splitters import make_split
    from lmrec.experiment.compare import compare_models

    data = load_dataset(args.data)
    print(f"{data.name}: {data.n_users} users, {data.n_items} items, {len(data)} interactions")
    out: list[dict[str, Any]] = []
    for protocol in args.protocols.split(","):
        models = getattr(args, f"{protocol.replace('-', '_')}_models").split(",")
        for seed in (int(s) for s in args.seeds.split(",")):
            split = make_split(data, protocol, seed=seed)
            rows = compare_models(
                split,
                models,
                protocol,
                settings=settings(args.threads, protocol),
                tune=not args.no_tune,
                progress=lambda msg: print(f"  {msg}", file=sys.stderr, flush=True),
            )
            print(f"\n## {protocol}, split seed {seed} ({split.sizes()})\n")
            print(table(rows))
            for line in paired_lines(rows):
                print(line)
            out += [{**r.to_json(), "seed": seed} for r in rows]
    return out


def table(rows: list[Any]) -> str:
    from lmrec.experiment.report import confidence_intervals

    ci = confidence_intervals(rows)
    floor = next((r.metrics["ndcg@10"] for r in rows if r.model == "random"), None)
    lines = [
        "| model | NDCG@10 | 95% CI | Recall@10 | x random | fit s |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        ndcg = r.metrics["ndcg@10"]
        lo, hi = ci.get(r.model, [float("nan")] * 2)
        times = f"{ndcg / floor:.1f}" if floor else "-"
        lines.append(
            f"| {r.model} | {ndcg:.4f} | [{lo:.4f}, {hi:.4f}] | {r.metrics['recall@10']:.4f} "
            f"| {times} | {r.fit_seconds:.1f} |"
        )
    return "\n".join(lines)


def paired_lines(rows: list[Any]) -> list[str]:
    """Each language-model model against the best other model (classic or tfidf), on
    per-user NDCG@10."""
    from lmrec.evaluation.stats import paired_test

    others = [r for r in rows if r.model not in LANGUAGE_MODELS and r.result is not None]
    if not others:
        return []
    best = max(others, key=lambda r: r.metrics["ndcg@10"])
    lines = [""]
    for r in rows:
        if r.model not in LANGUAGE_MODELS or r.result is None:
            continue
        test = paired_test(best.result.per_user["ndcg@10"], r.result.per_user["ndcg@10"])
        d = test.to_dict()
        lines.append(
            f"{r.model} minus {best.model}: {d['mean_diff']:+.4f} NDCG@10 "
            f"(95% CI [{d['diff_ci_low']:+.4f}, {d['diff_ci_high']:+.4f}]), "
            f"t-test p={d['t_pvalue']:.3g}, Wilcoxon p={d['wilcoxon_pvalue']:.3g}"
        )
    return lines


def main(argv: list[str]) -> None:
    args = parse_args(argv)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    rows = run(args)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)


if __name__ == "__main__":
    main(sys.argv[1:])
