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
from lmrec.feedback.estimators import Estimate, ips, ratio_estimate, snips
from lmrec.feedback.obd import BanditLog
from lmrec.feedback.reward_table import CellRewardModel

#: pseudo-impressions of the position's click rate added to every (item, position)
PRIOR_IMPRESSIONS = 100.0


def uniform_policy(n_items: int, n_positions: int) -> np.ndarray:
    """Every item equally likely at every position: (items, positions) of 1 / items."""
    return np.full((n_items, n_positions), 1.0 / n_items)


def reward_model(target: np.ndarray, prior: float = PRIOR_IMPRESSIONS) -> CellRewardModel:
    """Cells are (item, position); a row's group is its position, where the target's
    expected prediction is sum_a target[a, k] q[a, k]."""
    n_items, k = target.shape
    by_position = np.zeros((k, n_items * k))
    for position in range(k):
        by_position[position, np.arange(n_items) * k + position] = target[:, position]
    return CellRewardModel(by_position, k, prior)


def evaluate(log: BanditLog, target: np.ndarray, *, seed: int = 0) -> list[Estimate]:
    """IPS, SNIPS, DM and DR estimates of the target's click rate per shown item."""
    if target.shape != (log.n_items, log.n_positions):
        raise DataError(
            f"the target policy covers {target.shape} (items, positions); "
            f"the log has {(log.n_items, log.n_positions)}"
        )
    pe = target[log.item, log.position]
    cells = (log.item * log.n_positions + log.position)[:, None]
    w = (pe / log.propensity)[:, None]
    model = reward_model(target)
    return [
        ips(log.click, pe, log.propensity, seed=seed),
        snips(log.click, pe, log.propensity, seed=seed),
        *model.estimates(cells, log.click[:, None], w, log.position, seed=seed),
    ]


def on_policy(log: BanditLog, *, seed: int = 0) -> Estimate:
    """The logging policy's own click rate per shown item: the mean click, with its
    interval (the truth a target equal to this logger should be estimated at)."""
    return ratio_estimate("on-policy", log.click, seed=seed)
