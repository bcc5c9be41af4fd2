"""Off-policy estimators: the value a target policy would have had on a logged sample.

Every estimator here is a sum over positions of a ratio of sums over logged rows,

    V = sum_k  (sum_i num[i, k]) / (sum_i den[i, k]),

so one bootstrap serves them all: resample rows (impressions) with replacement and
recompute the ratio. A single-action log is the case of one position (K = 1).

Notation, per row i and position k: r = reward, p0 = the logging policy's propensity of
the logged item at that position, pe = the target policy's, w = pe / p0; q = a reward
model's prediction for the logged item, qe = its expectation under the target policy.

- IPS (inverse propensity scoring): num = w r, den = 1.
- SNIPS (self-normalised IPS): num = w r, den = w (per position).
- DM (direct method): num = qe, den = 1.
- DR (doubly robust): num = qe + w (r - q), den = 1.
- Independent-position IPS (Li et al. 2018): IPS with per-position marginal propensities,
  summed over positions; unbiased when a position's reward depends on its own item only.
- Standard slate IPS: num = W sum_k r_k with W the ratio of whole-list probabilities;
  unbiased for any reward, at the price of large weights.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

import numpy as np
import scipy.sparse as sp

from lmrec.errors import DataError

#: resamples of the percentile bootstrap behind every interval
N_BOOT = 1000
#: resamples drawn per matrix product (bounds the count matrix to ~64 MB)
_MAX_CELLS = 8_000_000


@dataclass(frozen=True)
class Estimate:
    """A policy value with its percentile bootstrap 95% interval."""

    estimator: str
    estimate: float
    ci_low: float
    ci_high: float

    def as_dict(self) -> dict[str, float | str]:
        return asdict(self)


def _as_matrix(name: str, values: np.ndarray, n: int | None = None) -> np.ndarray:
    """(n,) or (n, K) float array -> (n, K); NaN or infinity is an error naming the array."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise DataError(f"{name} must be a vector or a rows x positions matrix, not {x.ndim}-D")
    if n is not None and x.shape[0] != n:
        raise DataError(f"{name} has {x.shape[0]} rows, the rewards have {n}")
    if not np.isfinite(x).all():
        raise DataError(f"{name} holds NaN or infinite values; drop those rows first")
    return x


def _weights(target: np.ndarray, logging: np.ndarray, n: int) -> np.ndarray:
    pe = _as_matrix("target propensities", target, n)
    p0 = _as_matrix("logging propensities", logging, n)
    if pe.shape != p0.shape:
        raise DataError(f"target propensities {pe.shape} and logging {p0.shape} differ in shape")
    if (p0 <= 0).any() or (p0 > 1).any():
        raise DataError("logging propensities must lie in (0, 1]: a logged item had a chance")
    if (pe < 0).any() or (pe > 1).any():
        raise DataError("target propensities must lie in [0, 1]")
    return pe / p0


def _rewards(rewards: np.ndarray) -> np.ndarray:
    r = _as_matrix("rewards", rewards)
    if r.shape[0] == 0:
        raise DataError("no logged rows to estimate from")
    return r


Statistic = Callable[[np.ndarray], float]


def bootstrap(
    features: np.ndarray | sp.spmatrix,
    statistics: Mapping[str, Statistic],
    *,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> list[Estimate]:
    """Estimates that are functions of column sums of `features` (n rows, d columns),
    with percentile bootstrap 95% intervals over rows. Each statistic maps the d sums to a
    value: the point estimate counts each row once, a resample counts row i as often as
    it was drawn, and all statistics share the resamples. A reward model fitted from such
    sums (`reward_table`) is refitted in every resample, so its error is in the interval."""
    f = sp.csr_matrix(features, dtype=np.float64)
    f.eliminate_zeros()
    n = f.shape[0]
    if n < 1:
        raise DataError("no logged rows to estimate from")
    if n_boot < 1:
        raise DataError(f"n_boot must be at least 1 (got {n_boot})")
    by_column = f.T.tocsr()
    rng = np.random.default_rng(seed)
    draws = np.empty((len(statistics), n_boot))
    chunk = max(1, _MAX_CELLS // n)
    for start in range(0, n_boot, chunk):
        size = min(n_boot, start + chunk) - start
        # row i of resample b is drawn counts[i, b] times
        flat = rng.integers(0, n, size=(size, n)) + (np.arange(size) * n)[:, None]
        counts = np.bincount(flat.ravel(), minlength=size * n).reshape(size, n).T
        sums = np.asarray(by_column @ counts.astype(np.float64)).T  # (size, d)
        for j, statistic in enumerate(statistics.values()):
            draws[j, start : start + size] = [statistic(row) for row in sums]
    point = np.asarray(f.sum(axis=0)).ravel()
    estimates = []
    for j, (name, statistic) in enumerate(statistics.items()):
        low, high = np.quantile(draws[j], [0.025, 0.975])
        estimates.append(Estimate(name, float(statistic(point)), float(low), float(high)))
    return estimates


def ratio_statistic(k: int, offset: int = 0) -> Statistic:
    """Sum over positions of num_k / den_k, the sums laid out as [num (k), den (k)] from
    `offset`; a position whose weights all vanish in a resample contributes nothing."""

    def value(sums: np.ndarray) -> float:
        num, den = sums[offset : offset + k], sums[offset + k : offset + 2 * k]
        safe = np.where(den > 0, den, 1.0)
        return float(np.where(den > 0, num / safe, 0.0).sum())

    return value


def ratio_estimate(
    name: str,
    num: np.ndarray,
    den: np.ndarray | None = None,
    *,
    n_boot: int = N_BOOT,
    seed: int = 0,
) -> Estimate:
    """sum_k sum_i num[i,k] / sum_i den[i,k] (den = 1 when None), with a percentile
    bootstrap 95% interval over rows. The same seed draws the same resamples."""
    num = np.atleast_2d(np.asarray(num, dtype=np.float64).T).T
    den = np.ones_like(num) if den is None else np.atleast_2d(np.asarray(den, np.float64).T).T
    if den.shape != num.shape:
        raise DataError(f"numerator {num.shape} and denominator {den.shape} differ in shape")
    features = np.concatenate([num, den], axis=1)
    return bootstrap(features, {name: ratio_statistic(num.shape[1])}, n_boot=n_boot, seed=seed)[0]


def ips(
    rewards: np.ndarray,
    target_propensity: np.ndarray,
    logging_propensity: np.ndarray,
    *,
    name: str = "ips",
    seed: int = 0,
) -> Estimate:
    """Inverse propensity scoring: mean of w r (summed over positions for a matrix)."""
    r = _rewards(rewards)
    w = _weights(target_propensity, logging_propensity, r.shape[0])
    return ratio_estimate(name, w * r, seed=seed)


def snips(
    rewards: np.ndarray,
    target_propensity: np.ndarray,
    logging_propensity: np.ndarray,
    *,
    seed: int = 0,
) -> Estimate:
    """Self-normalised IPS: sum of w r over sum of w, per position."""
    r = _rewards(rewards)
    w = _weights(target_propensity, logging_propensity, r.shape[0])
    return ratio_estimate("snips", w * r, w, seed=seed)


def direct_method(expected_target_reward: np.ndarray, *, seed: int = 0) -> Estimate:
    """Mean of a reward model's prediction under the target policy (qe); no propensities."""
    qe = _rewards(expected_target_reward)
    return ratio_estimate("dm", qe, seed=seed)


def doubly_robust(
    rewards: np.ndarray,
    target_propensity: np.ndarray,
    logging_propensity: np.ndarray,
    predicted_reward: np.ndarray,
    expected_target_reward: np.ndarray,
    *,
    seed: int = 0,
) -> Estimate:
    """DM plus the IPS-weighted residual of the reward model on the logged items."""
    r = _rewards(rewards)
    w = _weights(target_propensity, logging_propensity, r.shape[0])
    q = _as_matrix("predicted rewards", predicted_reward, r.shape[0])
    qe = _as_matrix("expected target rewards", expected_target_reward, r.shape[0])
    if not (q.shape == qe.shape == r.shape):
        raise DataError(f"rewards {r.shape}, predictions {q.shape} and {qe.shape} differ")
    return ratio_estimate("dr", qe + w * (r - q), seed=seed)


def independent_position_ips(
    rewards: np.ndarray,
    target_marginals: np.ndarray,
    logging_marginals: np.ndarray,
    *,
    seed: int = 0,
) -> Estimate:
    """Lists: per position, the chance of the logged item at that position under each
    policy; the value is the sum over positions of each position's IPS."""
    r = _rewards(rewards)
    return ips(r, target_marginals, logging_marginals, name="iips", seed=seed)


def slate_ips(
    rewards: np.ndarray,
    target_list_probability: np.ndarray,
    logging_list_probability: np.ndarray,
    *,
    seed: int = 0,
) -> Estimate:
    """Standard slate IPS: the whole list's reward weighted by the ratio of the chances of
    the whole logged list under the two policies."""
    r = _rewards(rewards)
    w = _weights(target_list_probability, logging_list_probability, r.shape[0])
    if w.shape[1] != 1:
        raise DataError("list probabilities must be one number per logged list")
    return ratio_estimate("slate-ips", w[:, 0] * r.sum(axis=1), seed=seed)
