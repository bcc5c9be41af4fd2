"""Uncertainty of evaluation results: bootstrap intervals and paired significance tests.

Per-user metric values are the unit of resampling: a user is one draw from the population
of users, so the interval says how much the mean would move with another sample of users.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from scipy import stats as sps

from lmrec.errors import DataError

#: resample this many values at once at most (bounds the index matrix to ~64 MB of int64)
_MAX_DRAWS_PER_CHUNK = 8_000_000


class Interval(NamedTuple):
    """Bounds of a percentile bootstrap interval; unpacks as `low, high`."""

    low: float
    high: float


def bootstrap_means(values: np.ndarray, n_boot: int = 1000, seed: int = 0) -> np.ndarray:
    """Means of `n_boot` resamples with replacement: (n_boot,) for 1-D values, (n_boot, m)
    for an (n, m) matrix (the same resampled users for every column, so metrics stay
    comparable within one resample)."""
    x = np.asarray(values, dtype=np.float64)
    n = x.shape[0]
    if n == 0:
        raise DataError("cannot bootstrap an empty set of values")
    if n_boot < 1:
        raise DataError(f"n_boot must be at least 1 (got {n_boot})")
    rng = np.random.default_rng(seed)
    out = np.empty((n_boot, *x.shape[1:]), dtype=np.float64)
    chunk = max(1, _MAX_DRAWS_PER_CHUNK // n)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        idx = rng.integers(0, n, size=(stop - start, n))
        out[start:stop] = x[idx].mean(axis=1)
    return out


def bootstrap_ci(
    values: np.ndarray, n_boot: int = 1000, seed: int = 0, alpha: float = 0.05
) -> Interval:
    """Percentile bootstrap interval, at level 1 - alpha, of the mean of 1-D values
    (NaN values are left out). The same seed gives the same interval."""
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[~np.isnan(x)]
    if not 0 < alpha < 1:
        raise DataError(f"alpha must lie strictly between 0 and 1 (got {alpha})")
    means = bootstrap_means(x, n_boot, seed)
    low, high = np.quantile(means, [alpha / 2, 1 - alpha / 2])
    return Interval(float(low), float(high))


@dataclass(frozen=True)
class PairedTest:
    """Comparison of two systems on the same users (b minus a)."""

    n: int  # users present in both
    mean_a: float
    mean_b: float
    mean_diff: float
    diff_ci_low: float
    diff_ci_high: float
    t_statistic: float
    t_pvalue: float
    wilcoxon_statistic: float
    wilcoxon_pvalue: float
    n_unmatched: int = 0  # users present in only one of the two inputs (left out)

    def significant(self, level: float = 0.05) -> bool:
        """Both tests reject 'no difference' at `level`."""
        return self.t_pvalue < level and self.wilcoxon_pvalue < level

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def paired_test(
    a: np.ndarray | pd.Series,
    b: np.ndarray | pd.Series,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> PairedTest:
    """Paired t-test, Wilcoxon signed-rank test and bootstrap CI of the mean difference.

    Series are aligned by their index (user ids) and users in only one of them are left
    out (counted in `n_unmatched`); arrays must already be aligned and equally long.
    """
    x, y, unmatched = _align(a, b)
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    if len(x) < 2:
        raise DataError(f"a paired test needs at least 2 users with both values (got {len(x)})")
    diff = y - x
    ci = bootstrap_ci(diff, n_boot=n_boot, seed=seed, alpha=alpha)
    if np.all(diff == diff[0]) and diff[0] == 0:
        # identical systems: scipy returns NaN (t) or refuses (Wilcoxon); no evidence
        t_stat, t_p, w_stat, w_p = 0.0, 1.0, 0.0, 1.0
    else:
        t = sps.ttest_rel(y, x)
        t_stat, t_p = float(t.statistic), float(t.pvalue)
        if np.isnan(t_p):  # constant non-zero difference: infinitely sure, say so plainly
            t_stat, t_p = float(np.sign(diff[0]) * np.inf), 0.0
        w = sps.wilcoxon(diff, zero_method="wilcox")
        w_stat, w_p = float(w.statistic), float(w.pvalue)
    return PairedTest(
        n=len(x),
        mean_a=float(x.mean()),
        mean_b=float(y.mean()),
        mean_diff=float(diff.mean()),
        diff_ci_low=ci.low,
        diff_ci_high=ci.high,
        t_statistic=t_stat,
        t_pvalue=t_p,
        wilcoxon_statistic=w_stat,
        wilcoxon_pvalue=w_p,
        n_unmatched=unmatched,
    )


def _align(
    a: np.ndarray | pd.Series, b: np.ndarray | pd.Series
) -> tuple[np.ndarray, np.ndarray, int]:
    if isinstance(a, pd.Series) and isinstance(b, pd.Series):
        common = a.index.intersection(b.index)
        unmatched = len(a.index.union(b.index)) - len(common)
        return (
            a.loc[common].to_numpy(dtype=np.float64),
            b.loc[common].to_numpy(dtype=np.float64),
            unmatched,
        )
    x = np.asarray(a, dtype=np.float64).ravel()
    y = np.asarray(b, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise DataError(
            f"paired values differ in length ({len(x)} vs {len(y)}): pass pandas Series "
            "indexed by user id to align them"
        )
    return x, y, 0
