"""Stochastic lists in the service: the live model ranks its top N candidates, the model's
exploration policy (`lmrec.feedback.exploration`) draws the k shown, and the chance of each
shown item at its position goes to the served-list log for off-policy evaluation."""

from __future__ import annotations

import dataclasses

import numpy as np

from lmrec.feedback.exploration import ExplorationPolicy
from lmrec.serving.recommend import RecResult


def candidates_to_rank(policy: ExplorationPolicy, k: int, pool: int) -> int:
    """How many items to ask the model for: k when greedy, else the pool (at least k)."""
    return k if policy.kind == "greedy" else max(k, pool)


def draw_list(
    policy: ExplorationPolicy, result: RecResult, k: int
) -> tuple[RecResult, list[float]]:
    """The shown list drawn from the ranked candidates, and each item's propensity."""
    if policy.kind == "greedy":
        n = min(k, len(result.item_ids))
        return dataclasses.replace(
            result, item_ids=result.item_ids[:n], scores=result.scores[:n]
        ), [1.0] * n
    # a fresh generator per request: numpy generators are not safe across threads
    shown, propensities = policy.draw(np.asarray(result.scores), k, np.random.default_rng())
    picked = dataclasses.replace(
        result,
        item_ids=[result.item_ids[i] for i in shown],
        scores=[result.scores[i] for i in shown],
    )
    return picked, propensities.tolist()
