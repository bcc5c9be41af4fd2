"""The off-policy promotion gate (`lmrec models promote NAME V --gate ope`): a challenger
version is promoted only if the lower end of its estimated click rate on the recent served
log beats the live version's estimate on the same lists.

The log is what the live version served under an exploration policy (LMREC_EXPLORATION),
with each shown item's propensity. Each version's own greedy list is recomputed for the
user of every logged list (training history, seen items excluded; lists of users either
version does not know are left out), and valued by

- epsilon and thompson logs: independent-position IPS, sum_j 1[logged item at j = the
  version's j-th] * r_j / p0_j, p0_j the item's logged marginal chance at j (for thompson
  a Monte Carlo estimate of it, standard error up to about 0.03, so the interval is
  approximate);
- softmax logs (Plackett-Luce, conditional chances logged): prefix IPS, the reward at j
  weighted by 1[the first j items match] / (p0_1 ... p0_j), valid when a position's click
  depends on the items above it and itself.

Items the live version never offered (outside its candidate pool) had no chance of being
shown and count as unclicked, so the gate errs toward keeping the live version. A greedy
log (chance 1 for the shown list, 0 for every other) cannot value another list and is
refused with the reason.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from lmrec.errors import DataError
from lmrec.experiment.promotion import Check
from lmrec.feedback.estimators import Estimate, ratio_estimate
from lmrec.feedback.thompson import THOMPSON_NOTE
from lmrec.models.artifacts import load_model
from lmrec.models.base import Recommender
from lmrec.models.batch import recommend_many
from lmrec.store.registry import ModelRegistry


def _logged_lists(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, np.ndarray]:
    """(one row per list: request_id, user_id), and (lists, K) logged items, rewards,
    propensities; empty positions hold '' and chance 1."""
    lists = frame.drop_duplicates("request_id")[["request_id", "user_id"]].reset_index(drop=True)
    row = pd.Index(lists["request_id"]).get_indexer(frame["request_id"])
    k = int(frame["rank"].max())
    items = np.full((len(lists), k), "", dtype=object)
    rewards, p0 = np.zeros((len(lists), k)), np.ones((len(lists), k))
    col = frame["rank"].to_numpy(int) - 1
    items[row, col] = frame["item_id"].astype(str).to_numpy()
    rewards[row, col] = frame["reward"].to_numpy(float)
    p0[row, col] = frame["propensity"].to_numpy(float)
    return lists, items, rewards, p0


#: policies whose logged chances are marginal chances of an item at a position
MARGINAL = ("epsilon", "thompson")


def greedy_items(model: Recommender, users: list[str], k: int) -> dict[str, list[str]]:
    """Each known user's top k from `model` (training history, seen items excluded)."""
    top = recommend_many(model, users, k=k, unknown="skip")
    return {str(u): part["item_id"].astype(str).tolist() for u, part in top.groupby("user_id")}


def value_versions(
    frame: pd.DataFrame, models: dict[str, Recommender], *, seed: int = 0
) -> tuple[dict[str, Estimate], int]:
    """Each model's greedy click rate per list on the logged lists whose user every model
    knows, and how many lists that is. `frame`: served rows of one exploration policy
    with user_id, propensity and reward (`EventStore.served_with_rewards`)."""
    frame = frame[frame["user_id"].notna() & frame["propensity"].notna()]
    if frame.empty:
        raise DataError(
            "no served lists with users and propensities in the window: serve the live "
            "version with LMREC_EXPLORATION=epsilon:E, softmax:T or thompson:L first"
        )
    policies = frame["policy"].unique().tolist()
    if len(policies) != 1:
        raise DataError(f"the log mixes policies {policies}: narrow the window to one")
    kind = str(policies[0]).split(":")[0]
    if kind not in (*MARGINAL, "softmax"):
        raise DataError(
            f"lists logged by {policies[0]} give every other list no chance: serve with "
            "LMREC_EXPLORATION=epsilon:E, softmax:T or thompson:L to value a challenger"
        )
    lists, items, rewards, p0 = _logged_lists(frame)
    users = sorted(set(lists["user_id"].astype(str)))
    k = items.shape[1]
    tops = {name: greedy_items(m, users, k) for name, m in models.items()}
    both = np.array([all(u in t for t in tops.values()) for u in lists["user_id"].astype(str)])
    if not both.any():
        raise DataError("no logged list is for a user every version knows")
    items, rewards, p0 = items[both], rewards[both], p0[both]
    kept_users = lists["user_id"].astype(str).to_numpy()[both]
    estimates = {}
    for name, top in tops.items():
        target = np.array([(top[u] + [None] * k)[:k] for u in kept_users], dtype=object)
        match = items == target
        if kind in MARGINAL:
            weights = match / p0
        else:
            weights = np.cumprod(match, axis=1) / np.cumprod(p0, axis=1)
        estimates[name] = ratio_estimate(name, weights * rewards, seed=seed)
    return estimates, int(both.sum())


def ope_check(
    registry: ModelRegistry, name: str, version: str, frame: pd.DataFrame, days: float
) -> Check:
    """The gate as a promotion check: `frame` holds NAME's served rows with rewards; the
    live version's rows of the last `days` days are the evidence."""
    live_version = registry.live_version(name)
    if live_version is None or live_version == str(version):
        return Check("ope", True, "no other live version: nothing to compare with")
    since = time.time() - days * 86400
    recent = frame[(frame["version"].astype(str) == live_version) & (frame["served_at"] >= since)]
    models = {
        "candidate": load_model(registry.version_path(name, version)),
        "live": load_model(registry.version_path(name, live_version)),
    }
    try:
        estimates, n_lists = value_versions(recent, models)
    except DataError as exc:
        return Check("ope", False, f"{exc} (live version {live_version}, last {days:g} days)")
    cand, live = estimates["candidate"], estimates["live"]
    detail = (
        f"clicks per list on {n_lists} lists the live version {live_version} served with "
        f"{recent['policy'].iloc[0]} in the last {days:g} days: version {version} "
        f"{cand.estimate:.4f} (95% {cand.ci_low:.4f} to {cand.ci_high:.4f}), live "
        f"{live.estimate:.4f}; the lower end must beat the live estimate"
    )
    if str(recent["policy"].iloc[0]).startswith("thompson"):
        detail += f" ({THOMPSON_NOTE})"
    return Check("ope", cand.ci_low > live.estimate, detail)


def mark_own_items(frame: pd.DataFrame, registry: ModelRegistry, name: str) -> pd.DataFrame:
    """The logged lists whose user the serving version knows, with `own`: whether the shown
    item is that version's own greedy item at its rank (recomputed from the registry, as a
    thompson log does not say)."""
    frame = frame[frame["user_id"].notna()]
    parts = []
    for version, rows in frame.groupby(frame["version"].astype(str)):
        model = load_model(registry.version_path(name, version))
        users = sorted(set(rows["user_id"].astype(str)))
        tops = greedy_items(model, users, int(rows["rank"].max()))
        rows = rows[rows["user_id"].astype(str).isin(tops)]
        own = [
            (tops[str(u)] + [None] * int(r))[int(r) - 1] == str(i)
            for u, r, i in zip(rows["user_id"], rows["rank"], rows["item_id"], strict=True)
        ]
        parts.append(rows.assign(own=own))
    if not parts or all(p.empty for p in parts):
        raise DataError(f"no logged list is for a user the served versions of {name} know")
    return pd.concat(parts, ignore_index=True)
