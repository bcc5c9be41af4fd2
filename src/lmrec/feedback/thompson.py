"""Thompson sampling over a model's ranked candidates, as the service draws lists with
`thompson:PRIOR_LOOKS`.

Each candidate's click chance per look has a Beta posterior: its looks and clicks so far
(kept per model version by the event store) on top of a prior worth PRIOR_LOOKS looks.
The prior's mean comes from the candidate's rank in the model's order, scaled to the
version's click rate so far, so an item nobody has clicked yet starts where the model puts
it and competes fairly with items that have a record. The shown list is the top k of one
draw from every posterior.

Thompson sampling has no closed form for the chance of an item at a position, so the
logged propensity is a Monte Carlo estimate: the share of a few hundred fresh draws in
which the item lands at that position, counting the draw that was shown as one of them
(so every estimate lies in [1/(R+1), 1] for R redraws, never 0). Its standard error is
at most 0.5/sqrt(R+1), about 0.03 for the default 256 redraws.
"""

from __future__ import annotations

import numpy as np

#: fresh draws behind each propensity estimate
REDRAWS = 256
#: said wherever a thompson log is valued off-policy: its chances are estimated, not exact
THOMPSON_NOTE = (
    "thompson propensities are Monte Carlo estimates (standard error up to about 0.03), "
    "so the interval is approximate"
)
#: the version's click rate per look before anything is counted, as (clicks, looks)
RATE_PRIOR = (1.0, 10.0)
#: prior means stay inside this range (a Beta needs both parameters positive)
PRIOR_RANGE = (0.01, 0.99)


def beta_parameters(
    looks: np.ndarray, clicks: np.ndarray, prior: np.ndarray, prior_looks: float
) -> tuple[np.ndarray, np.ndarray]:
    """(a, b) of each Beta posterior: clicks and non-clicks on top of `prior_looks`
    pseudo-looks at the prior mean."""
    a = clicks + prior_looks * prior
    b = np.maximum(looks - clicks, 0.0) + prior_looks * (1.0 - prior)
    return a, b


def rank_prior(n: int, k: int, total_looks: float, total_clicks: float) -> np.ndarray:
    """Prior mean of the click chance of each of n candidates in the model's order: the
    version's click rate per look (smoothed by RATE_PRIOR) times a DCG-like discount
    1/log2(rank + 2), scaled so the k shown positions average that rate."""
    if n == 0:
        return np.zeros(0)
    rate = (total_clicks + RATE_PRIOR[0]) / (total_looks + RATE_PRIOR[1])
    discount = 1.0 / np.log2(np.arange(n) + 2.0)
    return np.clip(rate * discount / discount[: max(1, min(k, n))].mean(), *PRIOR_RANGE)


def draw_top(a: np.ndarray, b: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of the k candidates with the highest draw from their posteriors."""
    return np.argsort(-rng.beta(a, b), kind="stable")[: min(k, len(a))]


def position_chances(
    a: np.ndarray, b: np.ndarray, k: int, rng: np.random.Generator, redraws: int = REDRAWS
) -> np.ndarray:
    """(n, k) Monte Carlo estimate of the chance of each candidate at each of the first k
    positions; every column sums to 1."""
    n = len(a)
    k = min(k, n)
    order = np.argsort(-rng.beta(a, b, size=(redraws, n)), axis=1)[:, :k]
    counts = np.zeros((n, k))
    np.add.at(counts, (order, np.broadcast_to(np.arange(k), order.shape)), 1.0)
    return counts / redraws


def estimate_propensities(
    a: np.ndarray,
    b: np.ndarray,
    shown: np.ndarray,
    rng: np.random.Generator,
    redraws: int = REDRAWS,
) -> np.ndarray:
    """Estimated chance of each shown candidate at its position: its share of `redraws`
    fresh draws plus the shown one."""
    chances = position_chances(a, b, len(shown), rng, redraws)
    hits = chances[shown, np.arange(len(shown))] * redraws
    return (hits + 1.0) / (redraws + 1.0)
