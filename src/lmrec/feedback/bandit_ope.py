"""Off-policy evaluation of a single-action bandit log (one row per item shown at a
position), such as the Open Bandit Dataset's.

The target policy is given as its chance of each item at each position. The direct
method's reward model is the click rate of each (item, position), shrunk towards the
position's rate: with some 40 clicks in 10,000 rows most pairs have none, and an unshrunk
rate of zero would claim those items are never clicked. DM and DR refit that model in
every bootstrap resample, so their intervals include its error.
"""

from __future__ import annotations

import numpy as np

from lmrec.errors import DataError
from lmrec.feedback.estimators import Estimate, ips, ratio_estimate, refit_estimate, snips
from lmrec.feedback.obd import BanditLog

#: pseudo-impressions of the position's click rate added to every (item, position)
PRIOR_IMPRESSIONS = 100.0


def uniform_policy(n_items: int, n_positions: int) -> np.ndarray:
    """Every item equally likely at every position: (items, positions) of 1 / items."""
    return np.full((n_items, n_positions), 1.0 / n_items)


def shrunk_click_rates(
    log: BanditLog, counts: np.ndarray | None = None, prior: float = PRIOR_IMPRESSIONS
) -> np.ndarray:
    """(items, positions) click rate, each pulled towards its position's overall rate;
    row i counts `counts[i]` times (once when None)."""
    weight = np.ones(len(log)) if counts is None else counts.astype(np.float64)
    cell = log.item * log.n_positions + log.position
    size = log.n_items * log.n_positions
    shape = (log.n_items, log.n_positions)
    shown = np.bincount(cell, weights=weight, minlength=size).reshape(shape)
    clicks = np.bincount(cell, weights=weight * log.click, minlength=size).reshape(shape)
    position_rate = clicks.sum(axis=0) / np.maximum(shown.sum(axis=0), 1.0)
    return (clicks + prior * position_rate) / (shown + prior)


def evaluate(log: BanditLog, target: np.ndarray, *, seed: int = 0) -> list[Estimate]:
    """IPS, SNIPS, DM and DR estimates of the target's click rate per shown item."""
    if target.shape != (log.n_items, log.n_positions):
        raise DataError(
            f"the target policy covers {target.shape} (items, positions); "
            f"the log has {(log.n_items, log.n_positions)}"
        )
    pe = target[log.item, log.position]
    w = pe / log.propensity

    def model_terms(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        q_table = shrunk_click_rates(log, counts)
        q = q_table[log.item, log.position]
        # expected predicted click under the target at the logged row's position
        qe = (target * q_table).sum(axis=0)[log.position]
        return q, qe

    def dm(counts: np.ndarray) -> float:
        _, qe = model_terms(counts)
        return float(counts @ qe / counts.sum())

    def dr(counts: np.ndarray) -> float:
        q, qe = model_terms(counts)
        return float(counts @ (qe + w * (log.click - q)) / counts.sum())

    return [
        ips(log.click, pe, log.propensity, seed=seed),
        snips(log.click, pe, log.propensity, seed=seed),
        refit_estimate("dm", dm, len(log), seed=seed),
        refit_estimate("dr", dr, len(log), seed=seed),
    ]


def on_policy(log: BanditLog, *, seed: int = 0) -> Estimate:
    """The logging policy's own click rate per shown item: the mean click, with its
    interval (the truth a target equal to this logger should be estimated at)."""
    return ratio_estimate("on-policy", log.click, seed=seed)
