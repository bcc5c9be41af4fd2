"""A list policy learned from logged feedback against supervised SASRec, in the replay
simulator over several seeds (each seed: its own split of the ratings, its own log of
--impressions lists from the popularity logger, its own fits). Prints every policy's
true clicks per list per seed, the mean over seeds, and a paired t-test over users (each
user's value averaged over the seeds, the same users in every seed's world when the
split keeps them) of every learned policy against supervised SASRec.

    python benchmarks/bench_reinforce.py --seeds 3 --impressions 100000 --threads 1
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy.stats import ttest_rel, wilcoxon

from lmrec.data import load_dataset
from lmrec.feedback.reinforce import LEFT_OUT, ReinforceSettings, compare_policies
from lmrec.feedback.simulator import build_world


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="ml-100k")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--impressions", type=int, default=100_000)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--sasrec-epochs", type=int, default=100)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    dataset = load_dataset(args.data)
    means: dict[str, list[float]] = {}
    per_user: dict[str, dict[int, dict[int, float]]] = {}  # policy -> user -> seed -> value
    for seed in range(args.seeds):
        start = time.perf_counter()
        world = build_world(dataset, seed=seed)
        result = compare_policies(
            world,
            args.impressions,
            seed=seed,
            sasrec_epochs=args.sasrec_epochs,
            settings=ReinforceSettings(epochs=args.epochs, seed=seed),
            threads=args.threads,
        )
        print(f"seed {seed}: {world.n_users} users, {result.logged_clicks} logged clicks, "
              f"{time.perf_counter() - start:.0f} s")  # fmt: skip
        for row in result.rows:
            name = str(row["policy"])
            means.setdefault(name, []).append(float(row["clicks per list"]))  # type: ignore[arg-type]
            p = row["p (paired)"]
            print(f"  {name:<40} {row['clicks per list']:.4f}"
                  + ("" if p is None else f"  vs SASRec {row['vs supervised SASRec']:+.4f}"
                     f" (p={p:.3g})"))  # fmt: skip
        for name, values in result.per_user.items():
            by_user = per_user.setdefault(name, {})
            users = np.ones(world.n_users, bool) if name != LEFT_OUT else result.left_out
            for user, value in zip(world.user_index[users], values[users], strict=True):
                by_user.setdefault(int(user), {})[seed] = float(value)
    print(f"\nmean over {args.seeds} seeds (clicks per list)")
    for name, values in means.items():
        print(f"  {name:<40} {np.mean(values):.4f}  ({' / '.join(f'{v:.4f}' for v in values)})")
    reference = per_user["SASRec, supervised"]
    print("\npaired over users (each user's mean over the seeds), against supervised SASRec")
    for name, by_user in per_user.items():
        if name == "SASRec, supervised":
            continue
        # each user's mean over the seeds in which both valued them
        users = sorted(set(by_user) & set(reference))
        a = np.array([np.mean(list(by_user[u].values())) for u in users])
        b = np.array([np.mean([reference[u][s] for s in by_user[u]]) for u in users])
        diff = a - b
        half = 1.96 * diff.std(ddof=1) / np.sqrt(len(diff))
        print(f"  {name:<40} {diff.mean():+.4f} (95% CI {diff.mean() - half:+.4f} to "
              f"{diff.mean() + half:+.4f}), t-test p={ttest_rel(a, b).pvalue:.3g}, "
              f"Wilcoxon p={wilcoxon(a, b).pvalue:.3g}, {len(users)} users")  # fmt: skip


if __name__ == "__main__":
    main()
