"""Stochastic lists in the service: the live model ranks its top N candidates, the model's
exploration policy (`lmrec.feedback.exploration`) draws the k shown, and the chance of each
shown item at its position goes to the served-list log for off-policy evaluation.

`thompson:L` draws from posteriors that learn from the service's own lists and clicks
(`BanditCounts`); its propensities are Monte Carlo estimates, computed when the served log
is written (each second, off the request path), so a request pays for one draw only."""

from __future__ import annotations

import dataclasses

import numpy as np

from lmrec.feedback.exploration import ExplorationPolicy
from lmrec.feedback.thompson import (
    beta_parameters,
    draw_top,
    estimate_propensities,
    rank_prior,
)
from lmrec.serving.bandit_state import BanditCounts
from lmrec.serving.recommend import RecResult


@dataclasses.dataclass(frozen=True)
class PendingChances:
    """Propensities of a Thompson list, estimated when `resolve` is called."""

    a: np.ndarray
    b: np.ndarray
    shown: np.ndarray

    def resolve(self) -> list[float]:
        return estimate_propensities(self.a, self.b, self.shown, np.random.default_rng()).tolist()


Propensities = list[float] | PendingChances


def candidates_to_rank(policy: ExplorationPolicy, k: int, pool: int) -> int:
    """How many items to ask the model for: k when greedy, else the pool (at least k)."""
    return k if policy.kind == "greedy" else max(k, pool)


def draw_list(
    policy: ExplorationPolicy, result: RecResult, k: int, counts: BanditCounts | None = None
) -> tuple[RecResult, Propensities]:
    """The shown list drawn from the ranked candidates, and each item's propensity
    (`counts`: the learning policy's looks and clicks, needed by thompson)."""
    if policy.kind == "greedy":
        n = min(k, len(result.item_ids))
        return dataclasses.replace(
            result, item_ids=result.item_ids[:n], scores=result.scores[:n]
        ), [1.0] * n
    # a fresh generator per request: numpy generators are not safe across threads
    rng = np.random.default_rng()
    propensities: Propensities
    if policy.learns:
        if counts is None:
            raise ValueError(f"{policy.label} needs the service's bandit counts")
        a, b = thompson_posteriors(policy, result, k, counts)
        shown = draw_top(a, b, k, rng)
        propensities = PendingChances(a, b, shown)
    else:
        shown, chances = policy.draw(np.asarray(result.scores), k, rng)
        propensities = chances.tolist()
    picked = dataclasses.replace(
        result,
        item_ids=[result.item_ids[i] for i in shown],
        scores=[result.scores[i] for i in shown],
    )
    return picked, propensities


def thompson_posteriors(
    policy: ExplorationPolicy, result: RecResult, k: int, counts: BanditCounts
) -> tuple[np.ndarray, np.ndarray]:
    """Beta (a, b) of each candidate: the counts of the version that ranked them, on a
    prior from their rank worth `policy.parameter` looks."""
    seen = counts.for_items(result.live.name, result.live.version, result.item_ids)
    prior = rank_prior(len(result.item_ids), k, seen.total_looks, seen.total_clicks)
    return beta_parameters(seen.looks, seen.clicks, prior, policy.parameter)
