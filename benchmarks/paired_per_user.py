"""Paired test over users between two models from per-user figures written by
`bench_sasrec.py --per-user DIR` (one CSV per run: user id, NDCG@10).

    python benchmarks/paired_per_user.py 'ids/sasrec-id-seed*.csv' 'tuned/sasrec-text-moe-*.csv'

Each side's runs (e.g. three seeds) are averaged per user first; prints the mean of each
side, the mean difference (second minus first) with its bootstrap 95% interval, and the
paired t-test and Wilcoxon p-values.
"""

from __future__ import annotations

import argparse
import glob
import json

import pandas as pd

from lmrec.evaluation.stats import paired_test


def seed_mean(pattern: str) -> pd.Series:
    files = sorted(glob.glob(pattern))
    if not files:
        raise SystemExit(f"no file matches {pattern!r}")
    runs = [pd.read_csv(f, index_col=0).iloc[:, 0] for f in files]
    return pd.concat(runs, axis=1).mean(axis=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("first", help="glob of the baseline's per-user CSVs")
    parser.add_argument("second", help="glob of the other model's per-user CSVs")
    args = parser.parse_args()
    a, b = seed_mean(args.first), seed_mean(args.second)
    test = paired_test(a, b)
    print(
        json.dumps(
            {
                "first": args.first,
                "second": args.second,
                "users": test.n,
                "mean_first": round(test.mean_a, 4),
                "mean_second": round(test.mean_b, 4),
                "mean_difference": round(test.mean_diff, 4),
                "relative": round(test.mean_diff / test.mean_a, 3),
                "ci95": [round(test.diff_ci_low, 4), round(test.diff_ci_high, 4)],
                "t_p": float(f"{test.t_pvalue:.3g}"),
                "wilcoxon_p": float(f"{test.wilcoxon_pvalue:.3g}"),
            }
        )
    )


if __name__ == "__main__":
    main()
