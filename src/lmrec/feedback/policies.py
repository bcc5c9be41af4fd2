"""List policies whose every probability is known exactly, for logging and evaluation.

An `EpsilonListPolicy` holds, per user, an order over that user's M candidates. With
chance 1 - epsilon it shows the first K in that order; otherwise K distinct candidates in a
uniformly random order. So the chance of candidate s at position k is

    (1 - epsilon) [s is k-th in the order] + epsilon / M,

and the chance of a whole list is (1 - epsilon) [list = the first K] + epsilon (M-K)!/M!.
Candidates are named by their slot 0..M-1 in the user's candidate row.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import perm

import numpy as np

from lmrec.errors import ConfigError


@dataclass(frozen=True)
class EpsilonListPolicy:
    order: np.ndarray  # (users, M) candidate slots, best first
    epsilon: float
    k: int

    def __post_init__(self) -> None:
        if not 0.0 <= self.epsilon <= 1.0:
            raise ConfigError(f"epsilon must lie in [0, 1], not {self.epsilon}")
        if not 1 <= self.k <= self.order.shape[1]:
            raise ConfigError(f"list length k={self.k} must lie in 1..{self.order.shape[1]}")

    @property
    def n_candidates(self) -> int:
        return int(self.order.shape[1])

    def sample(self, users: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """(len(users), K) slots shown to each arriving user."""
        shown = self.order[users, : self.k].copy()
        explore = rng.random(len(users)) < self.epsilon
        n_explore = int(explore.sum())
        if n_explore:
            # the first K of a random permutation: K distinct slots in random order
            keys = rng.random((n_explore, self.n_candidates))
            shown[explore] = np.argsort(keys, axis=1)[:, : self.k]
        return shown

    def position_probabilities(self, users: np.ndarray) -> np.ndarray:
        """(len(users), K, M): chance of each slot at each position."""
        m = self.n_candidates
        probs = np.full((len(users), self.k, m), self.epsilon / m)
        rows = np.arange(len(users))[:, None]
        positions = np.arange(self.k)[None, :]
        probs[rows, positions, self.order[users, : self.k]] += 1.0 - self.epsilon
        return probs

    def marginals(self, users: np.ndarray, shown: np.ndarray) -> np.ndarray:
        """(n, K): chance of the shown slot at its position."""
        greedy = self.order[users, : self.k] == shown
        return (1.0 - self.epsilon) * greedy + self.epsilon / self.n_candidates

    def list_probability(self, users: np.ndarray, shown: np.ndarray) -> np.ndarray:
        """(n,): chance of the whole shown list."""
        greedy = (self.order[users, : self.k] == shown).all(axis=1)
        return (1.0 - self.epsilon) * greedy + self.epsilon / perm(self.n_candidates, self.k)
