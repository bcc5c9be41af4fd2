"""Off-policy evaluation on the service's own log: served lists with the propensity of each
shown item (`EventStore.served_with_rewards`), rewards joined by request id.

Lists drawn by `epsilon:E` (E at most 0.5) over a model's top n candidates carry enough
to value the same model under another epsilon (greedy is epsilon 0): the shown item at
rank j is the model's own j-th exactly when its logged chance is (1 - E) + E/n rather
than E/n, and E/n follows from either value. Lists drawn by `thompson:L` carry each shown
item's marginal chance at its rank too, but as a Monte Carlo estimate (standard error up
to about 0.03, so intervals are approximate), and which item was the model's own is not in
the log: the caller recomputes the model's lists and passes that as an `own` column; such
a log values greedy. A greedy log (chance 1 for the shown list, 0 for any other) can value
only greedy itself, and softmax lists need the scores, which are not logged; both are
refused with the reason.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from lmrec.errors import DataError
from lmrec.feedback.estimators import Estimate, independent_position_ips, ratio_estimate, snips
from lmrec.feedback.exploration import ExplorationPolicy, parse_policy


def _lists(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(lists, K) rewards and logged propensities, a mask of filled positions and one of
    positions holding the model's own item (from an `own` column, when there is one)."""
    lists = pd.factorize(frame["request_id"])[0]
    k = int(frame["rank"].max())
    shape = (int(lists.max()) + 1, k)
    rewards, p0, filled = np.zeros(shape), np.ones(shape), np.zeros(shape, dtype=bool)
    own = np.zeros(shape, dtype=bool)
    rank = frame["rank"].to_numpy(int) - 1
    rewards[lists, rank] = frame["reward"].to_numpy(float)
    p0[lists, rank] = frame["propensity"].to_numpy(float)
    filled[lists, rank] = True
    if "own" in frame:
        own[lists, rank] = frame["own"].to_numpy(bool)
    return rewards, p0, filled, own


def evaluate_served(
    frame: pd.DataFrame, target: ExplorationPolicy, *, seed: int = 0
) -> list[Estimate]:
    """Clicks per list of `target` from the logged lists of one epsilon (or thompson)
    policy, by independent-position IPS and SNIPS, beside the logged lists' own mean
    ('logged'). A thompson log needs an `own` column: whether the shown item is the
    model's own at that rank."""
    if frame.empty:
        raise DataError("no served lists to evaluate: serve with LMREC_EXPLORATION first")
    if frame["propensity"].isna().any():
        raise DataError(
            "some served lists carry no propensity (logged before exploration was recorded); "
            "evaluate a period after the upgrade"
        )
    labels = frame["policy"].unique().tolist()
    if len(labels) != 1:
        raise DataError(f"the log mixes policies {labels}: evaluate one period at a time")
    logged = parse_policy(str(labels[0]))
    if target.kind == "softmax":
        raise DataError("a softmax target needs the model's scores, which are not logged")
    if logged.kind == "thompson" and target.kind != "greedy":
        raise DataError(
            f"lists logged by {logged.label} value greedy only: {target.label}'s chance of "
            "the other candidates needs the candidate pool, which is not logged"
        )
    if logged.kind not in ("epsilon", "thompson") and not (logged.kind == target.kind == "greedy"):
        raise DataError(
            f"lists logged by {logged.label} cannot value {target.label}: only epsilon and "
            "thompson logs (or greedy for greedy) give every candidate a chance"
        )
    if logged.kind == "thompson" and "own" not in frame:
        raise DataError("a thompson log needs the model's own lists (an `own` column)")
    rewards, p0, filled, own_items = _lists(frame)
    eps = logged.parameter
    target_eps = target.parameter if target.kind == "epsilon" else 0.0
    if logged.kind == "greedy":
        pe = filled.astype(float)
    elif logged.kind == "thompson":
        pe = (filled & own_items).astype(float)
    else:
        if eps > 0.5:
            raise DataError(
                f"lists logged by {logged.label} cannot be told apart from the model's own: "
                "log with epsilon at most 0.5"
            )
        # The model's own item at its rank has chance (1 - eps) + eps/n, any other eps/n;
        # with eps <= 0.5 and n >= 2 candidates only the first reaches 1 - eps.
        own = p0 >= (1 - eps) - 1e-9
        per_candidate = np.where(own, p0 - (1 - eps), p0)  # eps / n
        pe = np.where(filled, (1 - target_eps) * own + target_eps / eps * per_candidate, 0.0)
    return [
        ratio_estimate("logged", rewards, seed=seed),
        independent_position_ips(rewards, pe, p0, seed=seed),
        snips(rewards, pe, p0, seed=seed),
    ]
