"""Stochastic list policies for serving: from a model's ranked candidates (best first),
draw the k items to show and the chance of each shown item at its position, which is what
an off-policy estimate later divides by.

- `greedy`: the first k; every propensity is 1.
- `epsilon:E`: with chance 1 - E the first k, otherwise k candidates in uniformly random
  order; the chance of candidate c at position j is (1 - E)[c is j-th] + E / n, exactly.
- `softmax:T`: Plackett-Luce sampling without replacement with weights exp(score / T);
  the logged propensity of the item at position j is its chance given the items above it
  (the product over positions is the chance of the whole list).
- `thompson:L`: Thompson sampling that learns online: a Beta posterior per candidate from
  its looks and clicks so far, with a prior from the model's rank worth L looks
  (`lmrec.feedback.thompson`); propensities are Monte Carlo estimates.

Each draw is a few NumPy operations over at most a few hundred candidates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmrec.errors import ConfigError

POLICIES = ("greedy", "epsilon", "softmax", "thompson")


@dataclass(frozen=True)
class ExplorationPolicy:
    kind: str = "greedy"
    parameter: float = 0.0

    @property
    def label(self) -> str:
        return self.kind if self.kind == "greedy" else f"{self.kind}:{self.parameter:g}"

    @property
    def learns(self) -> bool:
        """Whether the policy draws from posteriors updated by served lists and clicks
        (its draws go through `lmrec.feedback.thompson`, not `draw`)."""
        return self.kind == "thompson"

    def draw(
        self, scores: np.ndarray, k: int, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """(positions into the candidates shown, propensity of each), candidates ordered
        best first with their scores."""
        n = len(scores)
        k = min(k, n)
        if self.learns:
            raise ValueError("a thompson draw needs the candidates' posteriors")
        if self.kind == "greedy" or n == 0:
            return np.arange(k), np.ones(k)
        if self.kind == "epsilon":
            greedy = rng.random() >= self.parameter
            shown = np.arange(k) if greedy else rng.permutation(n)[:k]
            first_k = shown == np.arange(k)
            return shown, (1.0 - self.parameter) * first_k + self.parameter / n
        logits = np.asarray(scores, dtype=np.float64) / self.parameter
        logits = np.where(np.isfinite(logits), logits, -np.inf)
        # Gumbel top-k is Plackett-Luce sampling without replacement
        keys = logits + rng.gumbel(size=n)
        shown = np.argsort(-keys, kind="stable")[:k]
        return shown, _sequential_chances(logits, shown)


def _sequential_chances(logits: np.ndarray, shown: np.ndarray) -> np.ndarray:
    """Chance of each shown candidate given those above it, under Plackett-Luce."""
    top = np.max(logits[np.isfinite(logits)]) if np.isfinite(logits).any() else 0.0
    weights = np.exp(logits - top)
    remaining = weights.sum()
    out = np.empty(len(shown))
    for j, c in enumerate(shown):
        out[j] = weights[c] / remaining if remaining > 0 else 0.0
        remaining -= weights[c]
    return out


def parse_policy(spec: str) -> ExplorationPolicy:
    """'greedy', 'epsilon:0.1', 'softmax:0.5' (temperature) or 'thompson:2' (prior looks)."""
    kind, _, value = spec.strip().partition(":")
    if kind not in POLICIES:
        raise ConfigError(
            "exploration policy must be one of greedy, epsilon:E, softmax:T, thompson:L, "
            f"not {spec!r}"
        )
    if kind == "greedy":
        if value:
            raise ConfigError(f"greedy takes no parameter ({spec!r})")
        return ExplorationPolicy()
    try:
        parameter = float(value)
    except ValueError:
        raise ConfigError(
            f"{kind} needs a number after ':', e.g. {kind}:0.1 (got {spec!r})"
        ) from None
    if kind == "epsilon" and not 0.0 <= parameter <= 1.0:
        raise ConfigError(f"epsilon must lie in [0, 1] (got {spec!r})")
    if kind == "softmax" and not parameter > 0.0:
        raise ConfigError(f"the softmax temperature must be positive (got {spec!r})")
    if kind == "thompson" and not (parameter > 0.0 and np.isfinite(parameter)):
        raise ConfigError(
            "thompson's prior strength (pseudo-looks, e.g. thompson:2) must be a positive "
            f"number (got {spec!r})"
        )
    return ExplorationPolicy(kind, parameter)


def parse_exploration(spec: str) -> dict[str, ExplorationPolicy]:
    """Policies per model name: 'epsilon:0.1' for every model, or a comma-separated list
    such as 'softmax:0.5,ease=epsilon:0.1' (a bare policy applies to models not named).
    The key '' holds the policy for every other model."""
    plan: dict[str, ExplorationPolicy] = {"": ExplorationPolicy()}
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, sep, policy = part.partition("=")
        if sep and not name.strip():
            raise ConfigError(f"a model name is missing before '=' in {part!r}")
        plan[name.strip() if sep else ""] = parse_policy(policy if sep else name)
    return plan
