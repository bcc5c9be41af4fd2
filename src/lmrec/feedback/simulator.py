"""A replay simulator on rating data, where the true value of any list policy is known.

The ratings are split per user in half. EASE, fitted on the first half, proposes each
user's M candidates (items the user has not rated there). A user who arrives is shown K of
them; the item at position k is clicked with chance examination[k] when the user's
held-out rating of it is 4 or more, else never. So the expected clicks of a list, and the
value of a policy (expected clicks per list over arriving users, drawn uniformly from the
users with held-out ratings), follow exactly from the labels, and estimates made from a
logged sample can be compared with the truth.

The logger is epsilon-greedy over each user's candidates in order of popularity; the
target epsilon-greedy in EASE's order, with less exploration (`policies.EpsilonListPolicy`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from lmrec.data.dataset import Dataset
from lmrec.data.splitters import random_split
from lmrec.errors import DataError
from lmrec.feedback.estimators import Estimate, Statistic, bootstrap, ratio_statistic
from lmrec.feedback.policies import EpsilonListPolicy
from lmrec.feedback.reward_table import CellRewardModel

#: a held-out rating at least this high is a click (when the position is examined)
CLICK_RATING = 4.0
#: pseudo-impressions of the position's click rate added to every (slot, position) of the
#: direct method's reward model
PRIOR_IMPRESSIONS = 20.0


def examination(k: int) -> np.ndarray:
    """Chance that position k (0-based) is looked at: 1 / log2(k + 2), as in DCG."""
    return 1.0 / np.log2(np.arange(k) + 2.0)


@dataclass(frozen=True)
class ReplayWorld:
    """Arriving users (rows), their candidates and what they would click."""

    user_index: np.ndarray  # (U,) dataset user index of each row
    candidates: np.ndarray  # (U, M) item indices in EASE's order, best first
    labels: np.ndarray  # (U, M) 1.0 where the held-out rating is >= CLICK_RATING
    popularity_order: np.ndarray  # (U, M) slots by training popularity, most popular first
    examination: np.ndarray  # (K,)
    train: Dataset  # what the candidate model saw
    new_items: np.ndarray | None = None  # (n_items,) bool: added after training

    @property
    def n_users(self) -> int:
        return len(self.user_index)

    @property
    def k(self) -> int:
        return len(self.examination)

    @property
    def model_order(self) -> np.ndarray:
        return np.broadcast_to(np.arange(self.candidates.shape[1]), self.candidates.shape)


def build_world(
    dataset: Dataset,
    *,
    n_candidates: int = 10,
    k: int = 3,
    seed: int = 0,
    new_items: float = 0.0,
    item_vectors: np.ndarray | None = None,
    new_per_user: int = 2,
) -> ReplayWorld:
    """Split the ratings in half per user, fit EASE on the first half, and keep, for every
    user with held-out ratings, the top `n_candidates` unrated items.

    With `new_items` > 0, that share of the catalogue is added after training: all of its
    ratings are held out, EASE never sees it, and each user's last `new_per_user`
    candidates are the new items closest in text (`item_vectors`) to the user's training
    items, after EASE's top ones, so the model's own order puts them last."""
    from lmrec.models.registry import create_model

    if not dataset.explicit:
        raise DataError(
            f"the simulator needs explicit ratings (a click is a held-out rating >= "
            f"{CLICK_RATING:g}); {dataset.name} holds implicit feedback"
        )
    if not 0.0 <= new_items < 1.0:
        raise DataError(f"the share of new items must lie in [0, 1), not {new_items}")
    if new_items > 0 and item_vectors is None:
        raise DataError("new items need item text embeddings to be found by their text")
    split = random_split(dataset, (0.5, 0.0, 0.5), seed=seed)
    is_new = np.random.default_rng(seed).random(dataset.n_items) < new_items
    train = split.train.subset(~is_new[split.train.items_idx])
    held = split.test.concat(split.train.subset(is_new[split.train.items_idx]))
    users = np.unique(held.users_idx)
    n_new = new_per_user if is_new.any() else 0
    if len(users) == 0 or n_candidates > dataset.n_items or n_new >= n_candidates:
        raise DataError(f"{dataset.name} has too few ratings or items for the simulator")
    model = create_model("ease").fit(train)
    scores = model.score_users(users).astype(np.float64)
    seen = train.binary_csr[users].toarray() > 0
    scores[seen | np.isnan(scores) | is_new[None, :]] = -np.inf
    candidates = _top(scores, n_candidates - n_new)
    if n_new:
        assert item_vectors is not None
        profiles = np.asarray(train.binary_csr[users] @ item_vectors)
        closeness = profiles @ item_vectors.T
        closeness[:, ~is_new] = -np.inf
        candidates = np.hstack([candidates, _top(closeness, n_new)])
    rows = np.arange(len(users))[:, None]
    liked = held.csr.multiply(held.csr >= CLICK_RATING).tocsr()[users]
    labels = (np.asarray(liked[rows, candidates].todense()) > 0).astype(np.float64)
    popularity = train.item_counts()[candidates]
    popularity_order = np.argsort(-popularity, axis=1, kind="stable")
    return ReplayWorld(
        users, candidates, labels, popularity_order, examination(k), train, is_new
    )  # fmt: skip


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Per row, the columns of the n highest scores, highest first."""
    top = np.argpartition(-scores, n - 1, axis=1)[:, :n]
    rows = np.arange(len(scores))[:, None]
    return np.take_along_axis(top, np.argsort(-scores[rows, top], axis=1), axis=1)


@dataclass(frozen=True)
class ListLog:
    """Logged lists: world row of the user, shown slots and clicks, (n,) and (n, K)."""

    users: np.ndarray
    shown: np.ndarray
    clicks: np.ndarray

    def __len__(self) -> int:
        return len(self.users)


def log_lists(
    world: ReplayWorld, policy: EpsilonListPolicy, n: int, rng: np.random.Generator
) -> ListLog:
    """n lists shown by `policy` to users arriving uniformly at random, and their clicks."""
    users = rng.integers(0, world.n_users, n)
    shown = policy.sample(users, rng)
    chance = world.examination[None, :] * world.labels[users[:, None], shown]
    return ListLog(users, shown, (rng.random(chance.shape) < chance).astype(np.float64))


def true_value(world: ReplayWorld, policy: EpsilonListPolicy) -> float:
    """Expected clicks per list over arriving users, from the full labels."""
    probs = policy.position_probabilities(np.arange(world.n_users))  # (U, K, M)
    per_position = np.einsum("ukm,um->uk", probs, world.labels)
    return float((per_position * world.examination).sum(axis=1).mean())


def estimate(
    world: ReplayWorld,
    log: ListLog,
    logger: EpsilonListPolicy,
    target: EpsilonListPolicy,
    *,
    seed: int = 0,
) -> list[Estimate]:
    """Every estimator's value of `target` from `log`, in clicks per list."""
    p0 = logger.marginals(log.users, log.shown)
    pe = target.marginals(log.users, log.shown)
    w = pe / p0
    m, k = world.candidates.shape[1], world.k
    cells = log.shown * k + np.arange(k)  # (slot, position) of every shown item
    # the target's chance of each (slot, position) cell, per arriving user
    users = np.arange(world.n_users)
    by_user = target.position_probabilities(users).transpose(0, 2, 1).reshape(len(users), m * k)
    model = CellRewardModel(by_user, k, PRIOR_IMPRESSIONS)
    list_weight = target.list_probability(log.users, log.shown) / logger.list_probability(
        log.users, log.shown
    )
    # One bootstrap for all estimators, from the column sums of
    # [w r (K) | 1 (K) | w (K) | W sum_k r | the reward model's blocks].
    slate_terms = (list_weight * log.clicks.sum(axis=1))[:, None]
    own = np.hstack([w * log.clicks, np.ones_like(w), w, slate_terms])
    features = sp.hstack(
        [sp.csr_matrix(own), model.features(cells, log.clicks, w, log.users)], format="csr"
    )

    def snips(sums: np.ndarray) -> float:
        return ratio_statistic(k)(np.concatenate([sums[:k], sums[2 * k : 3 * k]]))

    def slate_ips(sums: np.ndarray) -> float:
        return float(sums[3 * k] / sums[k])  # sums[k]: the number of lists

    statistics: dict[str, Statistic] = {
        "iips": ratio_statistic(k),
        "snips": snips,
        **model.statistics(offset=3 * k + 1),
        "slate-ips": slate_ips,
    }
    return bootstrap(features, statistics, seed=seed)


@dataclass(frozen=True)
class Simulation:
    rows: list[dict[str, float | str]]
    truth: float
    logger_value: float
    logged_clicks: int


def run_ope(
    world: ReplayWorld,
    impressions: int,
    *,
    seed: int = 0,
    logger_epsilon: float = 0.5,
    target_epsilon: float = 0.1,
) -> Simulation:
    """Log `impressions` lists with the popularity logger, estimate the EASE target."""
    if impressions < 1:
        raise DataError(f"impressions must be at least 1, not {impressions}")
    logger = EpsilonListPolicy(world.popularity_order, logger_epsilon, world.k)
    target = EpsilonListPolicy(np.ascontiguousarray(world.model_order), target_epsilon, world.k)
    log = log_lists(world, logger, impressions, np.random.default_rng(seed))
    truth = true_value(world, target)
    rows: list[dict[str, float | str]] = []
    for est in estimate(world, log, logger, target, seed=seed):
        rows.append(
            {
                "estimator": est.estimator,
                "estimate": est.estimate,
                "truth": truth,
                "rel_error": (est.estimate - truth) / truth,
                "ci_low": est.ci_low,
                "ci_high": est.ci_high,
            }
        )
    return Simulation(rows, truth, true_value(world, logger), int(log.clicks.sum()))
