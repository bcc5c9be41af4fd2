"""Reading an A/B test every day: how often the fixed 95% interval and the sequential test
(`lmrec.feedback.ab_test`, normal-mixture SPRT) declare a difference when there is none,
and how soon the sequential test finds one that is there.

Simulated tests: each day `--users` new users per arm, each shown 1 to 19 items, each item
clicked with the arm's rate; the report is read after every day for `--days` days and the
test stops at the first read that decides. Prints one markdown row per setting.

    python benchmarks/bench_ab_peeking.py --tests 1000 --days 30 --users 100
"""

from __future__ import annotations

import argparse

import numpy as np

from lmrec.feedback.ab_test import confidence_sequence_radius, msprt, ratio_rate


def daily_reads(
    rng: np.random.Generator, rates: tuple[float, float], days: int, users: int
) -> list[tuple[float, float]]:
    """(difference, variance) after each day, the data accumulating."""
    shown = [np.empty(0), np.empty(0)]
    clicks = [np.empty(0), np.empty(0)]
    reads = []
    for _ in range(days):
        for arm, rate in enumerate(rates):
            n = rng.integers(1, 20, users)
            shown[arm] = np.concatenate([shown[arm], n])
            clicks[arm] = np.concatenate([clicks[arm], rng.binomial(n, rate)])
        (ra, sa), (rb, sb) = (ratio_rate(clicks[a], shown[a]) for a in range(2))
        reads.append((rb - ra, sa**2 + sb**2))
    return reads


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tests", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--users", type=int, default=100, help="new users per arm per day")
    parser.add_argument("--tau", type=float, default=0.005)
    parser.add_argument("--alpha", type=float, default=0.05)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(
        "| control rate | arm rate | fixed 95% read daily: decided | sequential: decided "
        "| median day decided | sequence covers the truth every day |"
    )
    print("|---:|---:|---:|---:|---:|---:|")
    for rates in ((0.05, 0.05), (0.05, 0.06), (0.05, 0.07)):
        truth = rates[1] - rates[0]
        fixed = seq = covered = 0
        days: list[int] = []
        for _ in range(args.tests):
            reads = daily_reads(rng, rates, args.days, args.users)
            fixed += any(abs(d) > 1.96 * v**0.5 for d, v in reads)
            hits = [i for i, (d, v) in enumerate(reads) if 1 / msprt(d, v, args.tau) <= args.alpha]
            seq += bool(hits)
            if hits:
                days.append(hits[0] + 1)
            covered += all(
                abs(d - truth) <= confidence_sequence_radius(v, args.tau, args.alpha)
                for d, v in reads
            )
        median = f"{np.median(days):.0f}" if days else "-"
        print(
            f"| {rates[0]} | {rates[1]} | {fixed / args.tests:.3f} | {seq / args.tests:.3f} "
            f"| {median} | {covered / args.tests:.3f} |"
        )


if __name__ == "__main__":
    main()
