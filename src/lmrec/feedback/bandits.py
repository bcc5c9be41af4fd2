"""Online list bandits in the replay simulator: each round a user arrives, a policy shows
K of the user's M candidates, sees the clicks and updates.

- `greedy`: the candidate model's first K (EASE; what the service serves today), never
  learns.
- `random`: K candidates uniformly at random.
- `linucb`: one linear model for all users over each candidate's features (its rank in
  the model's order, one-hot, and its item text embedding reduced to a few dimensions),
  ranked by an upper confidence bound; a new item starts from its text.
- `thompson`: a Beta posterior per (user, candidate) whose prior mean is that shared
  linear model's prediction, ranked by a draw from each posterior.
- `epsilon-greedy`: the same posterior's mean, and with chance epsilon K candidates at
  random.

Clicks are position-biased, so every update counts a showing at position k as
examination[k] of a look (the click model the simulator uses).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from lmrec.data.dataset import Dataset
from lmrec.feedback.simulator import ReplayWorld
from lmrec.feedback.thompson import PRIOR_RANGE, beta_parameters

#: pseudo-looks of the shared model's prediction in a (user, candidate) posterior
PRIOR_LOOKS = 2.0
#: ridge penalty of the shared linear model
RIDGE = 1.0


class ListBandit(Protocol):
    name: str

    def choose(self, user: int, rng: np.random.Generator) -> np.ndarray: ...

    def update(self, user: int, shown: np.ndarray, clicks: np.ndarray) -> None: ...


@dataclass
class Greedy:
    world: ReplayWorld
    name: str = "greedy"

    def choose(self, user: int, rng: np.random.Generator) -> np.ndarray:
        return np.arange(self.world.k)  # candidates are in the model's order

    def update(self, user: int, shown: np.ndarray, clicks: np.ndarray) -> None:
        pass


@dataclass
class Uniform:
    world: ReplayWorld
    name: str = "random"

    def choose(self, user: int, rng: np.random.Generator) -> np.ndarray:
        return rng.permutation(self.world.candidates.shape[1])[: self.world.k]

    def update(self, user: int, shown: np.ndarray, clicks: np.ndarray) -> None:
        pass


def candidate_features(
    world: ReplayWorld, item_vectors: np.ndarray | None, dims: int
) -> np.ndarray:
    """(U, M, d): one-hot rank in the model's order, then the item's text embedding
    projected on its first `dims` principal directions (scaled to unit variance); the
    rank alone without text."""
    users, m = world.candidates.shape
    rank = np.broadcast_to(np.eye(m), (users, m, m))
    if item_vectors is None:
        return np.ascontiguousarray(rank)
    centred = item_vectors - item_vectors.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    text = centred @ vt[:dims].T
    text /= np.maximum(text.std(axis=0), 1e-12)
    return np.concatenate([rank, text[world.candidates]], axis=2)


def item_text_vectors(dataset: Dataset) -> np.ndarray | None:
    """The default text model's embedding of each item's text (cached on disk), or None
    when the items have no text or the text extra is not installed."""
    items = dataset.items
    if items is None or len(items.columns) <= 1:
        return None
    try:
        from lmrec.encoders import (
            EmbeddingCache,
            EncoderConfig,
            default_item_template,
            encode_cached,
            get_encoder,
        )
    except ImportError:
        return None
    texts = list(default_item_template(items).render(items))
    config = EncoderConfig()
    return encode_cached(get_encoder(config), texts, EmbeddingCache(config.cache_dir))


@dataclass
class SharedLinearModel:
    """Ridge regression of looks-weighted clicks on candidate features, kept as the
    inverse of its Gram matrix (Sherman-Morrison updates)."""

    features: np.ndarray  # (U, M, d)
    examination: np.ndarray  # (K,)
    a_inv: np.ndarray = field(init=False)
    b: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        d = self.features.shape[2]
        self.a_inv = np.eye(d) / RIDGE
        self.b = np.zeros(d)

    def predict(self, user: int) -> tuple[np.ndarray, np.ndarray]:
        """(mean, standard deviation) of the click chance of each candidate if looked at."""
        x = self.features[user]
        mean = x @ (self.a_inv @ self.b)
        spread = np.sqrt(np.einsum("md,de,me->m", x, self.a_inv, x))
        return mean, spread

    def update(self, user: int, shown: np.ndarray, clicks: np.ndarray) -> None:
        for position, (slot, click) in enumerate(zip(shown, clicks, strict=True)):
            x = self.examination[position] * self.features[user, slot]
            ax = self.a_inv @ x
            self.a_inv -= np.outer(ax, ax) / (1.0 + x @ ax)
            self.b += x * click


@dataclass
class LinUCB:
    model: SharedLinearModel
    k: int
    alpha: float = 1.0
    name: str = "linucb"

    def choose(self, user: int, rng: np.random.Generator) -> np.ndarray:
        mean, spread = self.model.predict(user)
        return np.argsort(-(mean + self.alpha * spread))[: self.k]

    def update(self, user: int, shown: np.ndarray, clicks: np.ndarray) -> None:
        self.model.update(user, shown, clicks)


@dataclass
class PerUserPosterior:
    """Looks and clicks per (user, candidate), with the shared model as prior."""

    model: SharedLinearModel
    looks: np.ndarray = field(init=False)
    clicks: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        self.looks = np.zeros(self.model.features.shape[:2])
        self.clicks = np.zeros(self.model.features.shape[:2])

    def beta(self, user: int) -> tuple[np.ndarray, np.ndarray]:
        prior = np.clip(self.model.predict(user)[0], *PRIOR_RANGE)
        return beta_parameters(self.looks[user], self.clicks[user], prior, PRIOR_LOOKS)

    def update(self, user: int, shown: np.ndarray, clicks: np.ndarray) -> None:
        self.looks[user, shown] += self.model.examination
        self.clicks[user, shown] += clicks
        self.model.update(user, shown, clicks)


@dataclass
class Thompson:
    posterior: PerUserPosterior
    k: int
    name: str = "thompson"

    def choose(self, user: int, rng: np.random.Generator) -> np.ndarray:
        a, b = self.posterior.beta(user)
        return np.argsort(-rng.beta(a, b))[: self.k]

    def update(self, user: int, shown: np.ndarray, clicks: np.ndarray) -> None:
        self.posterior.update(user, shown, clicks)


@dataclass
class EpsilonGreedy:
    posterior: PerUserPosterior
    k: int
    epsilon: float = 0.1
    name: str = "epsilon-greedy"

    def choose(self, user: int, rng: np.random.Generator) -> np.ndarray:
        a, b = self.posterior.beta(user)
        if rng.random() < self.epsilon:
            return rng.permutation(len(a))[: self.k]
        return np.argsort(-(a / (a + b)))[: self.k]

    def update(self, user: int, shown: np.ndarray, clicks: np.ndarray) -> None:
        self.posterior.update(user, shown, clicks)


def standard_bandits(
    world: ReplayWorld, item_vectors: np.ndarray | None, dims: int = 16
) -> list[ListBandit]:
    """Greedy, random, LinUCB, Thompson sampling and epsilon-greedy, each with its own
    state."""

    def shared() -> SharedLinearModel:
        return SharedLinearModel(candidate_features(world, item_vectors, dims), world.examination)

    return [
        Greedy(world),
        Uniform(world),
        LinUCB(shared(), world.k),
        Thompson(PerUserPosterior(shared()), world.k),
        EpsilonGreedy(PerUserPosterior(shared()), world.k),
    ]


@dataclass(frozen=True)
class OnlineRun:
    """Cumulative clicks per round of each bandit, and the share of its impressions that
    went to items added after training (None when the world has none)."""

    curves: dict[str, np.ndarray]
    new_item_share: dict[str, float] | None


def run_online(
    world: ReplayWorld, bandits: list[ListBandit], rounds: int, *, seed: int = 0
) -> OnlineRun:
    """Every bandit meets the same users in the same order and the same click draws
    (common random numbers), so their curves differ by their choices only."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, world.n_users, rounds)
    draws = rng.random((rounds, world.k))
    new = None if world.new_items is None else world.new_items[world.candidates]
    curves: dict[str, np.ndarray] = {}
    shares: dict[str, float] = {}
    for bandit in bandits:
        own = np.random.default_rng([seed, len(curves)])
        clicks_per_round = np.empty(rounds)
        new_shown = 0
        for t, user in enumerate(users):
            shown = bandit.choose(int(user), own)
            clicks = (draws[t] < world.examination * world.labels[user, shown]).astype(float)
            bandit.update(int(user), shown, clicks)
            clicks_per_round[t] = clicks.sum()
            if new is not None:
                new_shown += int(new[user, shown].sum())
        curves[bandit.name] = np.cumsum(clicks_per_round)
        shares[bandit.name] = new_shown / (rounds * world.k)
    has_new = new is not None and bool(new.any())
    return OnlineRun(curves, shares if has_new else None)


def oracle_value(world: ReplayWorld) -> float:
    """Expected clicks per list of the best list for each user (labels known)."""
    best = -np.sort(-world.labels, axis=1)[:, : world.k]
    return float((best * world.examination).sum(axis=1).mean())
