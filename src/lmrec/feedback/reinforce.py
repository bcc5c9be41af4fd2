"""A list policy learned from logged feedback: off-policy REINFORCE with the top-K
correction (Chen et al., "Top-K Off-Policy Correction for a REINFORCE Recommender
System", WSDM 2019), on the same network as supervised SASRec.

The policy pi(.|s) is a softmax, over the user's M candidates in the replay simulator,
of SASRec's state after the user's training items against the item vectors. From lists
a logger showed with known propensities, every clicked item a raises log pi(a|s) by

    min(pi(a|s) / beta(a|s), cap) * K (1 - pi(a|s))^(K-1) * reward,

- beta(a|s): the logger's chance of showing a anywhere in the list; the ratio makes the
  update follow the policy's own choices rather than the logger's (capped, as in the
  paper, to bound its variance);
- K (1 - pi)^(K-1): the top-K correction. The policy shows K items, so what matters is
  the chance that a is among them, 1 - (1 - pi)^K; its gradient is this factor times
  the gradient of pi. An item already likely to be shown gains little from being made
  likelier, so the policy spreads its mass over K good items instead of one;
- reward: the click divided by the chance that its position was looked at (the
  simulator's click model, the one its bandits use), so the logger's habit of putting
  popular items first is not learned as a preference.

The served list is the policy's K most likely candidates. Training stops at the epoch
whose list scores best by SNIPS on a held-out part of the log: the choice uses logged
feedback only, never the simulator's labels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from lmrec.core.options import FitOptions
from lmrec.core.sequences import left_pad
from lmrec.core.threads import torch_threads
from lmrec.data.splitters import leave_one_out
from lmrec.errors import ConfigError
from lmrec.feedback.policies import EpsilonListPolicy
from lmrec.feedback.simulator import ListLog, ReplayWorld
from lmrec.models.sequence.base import SequenceNetwork, SequentialRecommender
from lmrec.training.device import seed_everything


@dataclass(frozen=True)
class ReinforceSettings:
    epochs: int = 30
    lr: float = 1e-3
    #: users per step (each with all of their logged clicks)
    batch_size: int = 64
    #: largest importance weight pi / beta (Chen et al. cap it too)
    cap: float = 10.0
    #: the top-K correction; off: plain off-policy REINFORCE, as if one item were shown
    top_k: bool = True
    #: start from the supervised network instead of a new one
    warm_start: bool = False
    #: share of the logged lists kept aside to choose the epoch
    holdout: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0 or self.cap <= 0:
            raise ConfigError("epochs, batch_size, lr and cap must be positive")
        if not 0.0 < self.holdout < 1.0:
            raise ConfigError(f"holdout must lie in (0, 1), not {self.holdout}")


def fit_supervised(
    world: ReplayWorld, *, epochs: int = 100, seed: int = 0, threads: int | None = 1
) -> SequentialRecommender:
    """SASRec on the simulator's training half: next-item cross-entropy, each user's
    last training item held out to stop early. Scores come from the whole history."""
    from lmrec.models.registry import create_model

    split = leave_one_out(world.train, valid=False)
    model = create_model("sasrec", {"epochs": epochs, "seed": seed})
    assert isinstance(model, SequentialRecommender)
    model.fit(split.train, split.test, FitOptions(threads=threads))
    return model


def user_sequences(world: ReplayWorld) -> list[np.ndarray]:
    """Each arriving user's training items (item indices), oldest first."""
    train = world.train
    order = np.lexsort((train.timestamps, train.users_idx))
    items, users = train.items_idx[order], train.users_idx[order]
    bounds = np.searchsorted(users, np.arange(train.n_users + 1))
    return [items[bounds[u] : bounds[u + 1]] for u in world.user_index]


def candidate_logits(
    net: SequenceNetwork, tokens: torch.Tensor, candidates: torch.Tensor
) -> torch.Tensor:
    """(U, M): each user's state against the vectors of that user's candidates."""
    states = net(tokens)[:, -1]
    vectors = net.items.all_items()[candidates]  # (U, M, hidden)
    return torch.einsum("uh,umh->um", states, vectors)


def supervised_scores(model: SequentialRecommender, world: ReplayWorld) -> np.ndarray:
    """(U, M) the supervised model's scores of each user's candidates."""
    scores = model.score_sequences(user_sequences(world)).astype(np.float64)
    mine = np.take_along_axis(scores, world.candidates, axis=1)
    return np.nan_to_num(mine, nan=-np.inf)  # items the model never saw go last


def list_values(world: ReplayWorld, scores: np.ndarray) -> np.ndarray:
    """(U,) expected clicks of each user's list: the K best-scored candidates."""
    order = np.argsort(-scores, axis=1, kind="stable")[:, : world.k]
    rows = np.arange(world.n_users)[:, None]
    return (world.labels[rows, order] * world.examination).sum(axis=1)


def snips_value(
    world: ReplayWorld, log: ListLog, logger: EpsilonListPolicy, scores: np.ndarray
) -> float:
    """SNIPS estimate, from `log`, of showing each user the K best-scored candidates."""
    order = np.argsort(-scores, axis=1, kind="stable")
    target = EpsilonListPolicy(order, 0.0, world.k)
    w = target.marginals(log.users, log.shown) / logger.marginals(log.users, log.shown)
    per_position = (w * log.clicks).sum(axis=0) / np.maximum(w.sum(axis=0), 1e-12)
    return float(per_position.sum())


def update_weight(
    pi: torch.Tensor, beta: torch.Tensor, reward: torch.Tensor, k: int, s: ReinforceSettings
) -> torch.Tensor:
    """How much each clicked item's log pi is raised: the capped importance ratio, the
    top-K factor d/dpi [1 - (1 - pi)^K] = K (1 - pi)^(K-1) when on, and the reward."""
    weight = (pi / beta).clamp(max=s.cap) * reward
    return weight * k * (1.0 - pi) ** (k - 1) if s.top_k else weight


def train_reinforce(
    world: ReplayWorld,
    log: ListLog,
    logger: EpsilonListPolicy,
    base: SequentialRecommender,
    settings: ReinforceSettings,
    *,
    threads: int | None = 1,
) -> np.ndarray:
    """(U, M) the learned policy's logits of each user's candidates."""
    seed_everything(settings.seed)
    rng = np.random.default_rng(settings.seed)
    held = rng.random(len(log)) < settings.holdout
    fit_log = ListLog(log.users[~held], log.shown[~held], log.clicks[~held])
    held_log = ListLog(log.users[held], log.shown[held], log.clicks[held])
    # Every click on the same (user, candidate) has the same pi and beta, so the clicks
    # are summed into one reward per (user, candidate): each step is exact over its users.
    rows, positions = np.nonzero(fit_log.clicks)
    if len(rows) == 0:
        raise ConfigError("the log holds no clicks to learn from")
    reward = np.zeros(world.candidates.shape)
    np.add.at(
        reward,
        (fit_log.users[rows], fit_log.shown[rows, positions]),
        1.0 / world.examination[positions],
    )
    clicks_per_user = np.bincount(fit_log.users[rows], minlength=world.n_users)
    beta = logger.position_probabilities(np.arange(world.n_users)).sum(axis=1)  # (U, M)
    t_reward, t_beta = torch.from_numpy(reward).float(), torch.from_numpy(beta).float()
    t_clicks = torch.from_numpy(clicks_per_user).float()
    net = base.network_copy(fresh=not settings.warm_start)
    tokens = torch.from_numpy(left_pad(user_sequences(world), base.config.max_len))
    candidates = torch.from_numpy(world.candidates)
    learners = torch.from_numpy(np.flatnonzero(clicks_per_user))
    optimiser = torch.optim.Adam(net.parameters(), lr=settings.lr)
    k = world.k
    best, best_logits = -np.inf, np.zeros(world.candidates.shape)
    with torch_threads(threads):
        for _ in range(settings.epochs):
            net.train()
            for batch in learners[torch.randperm(len(learners))].split(settings.batch_size):
                log_pi = F.log_softmax(
                    candidate_logits(net, tokens[batch], candidates[batch]), dim=1
                )
                weight = update_weight(
                    log_pi.detach().exp(), t_beta[batch], t_reward[batch], k, settings
                )
                loss = -(weight * log_pi).sum() / t_clicks[batch].sum()  # per click
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
            net.eval()
            with torch.no_grad():
                logits = candidate_logits(net, tokens, candidates).numpy().astype(np.float64)
            value = snips_value(world, held_log, logger, logits)
            if value > best:
                best, best_logits = value, logits
    return best_logits


#: the learned policies compared, by name
VARIANTS: dict[str, dict[str, bool]] = {
    "REINFORCE, top-K correction": {"top_k": True, "warm_start": False},
    "REINFORCE, no correction": {"top_k": False, "warm_start": False},
    "REINFORCE, top-K, from SASRec": {"top_k": True, "warm_start": True},
}


#: the top-K policy trained again without these users' lists, valued on them alone:
#: whether what it learned carries over to users it never saw feedback from
LEFT_OUT = "REINFORCE, top-K, on users left out of the log"
#: share of users left out for that row
LEFT_OUT_SHARE = 0.2


@dataclass(frozen=True)
class PolicyComparison:
    """rows: policy, true clicks per list, share of the best lists, difference from
    supervised SASRec and its paired p-value over users (for LEFT_OUT: over the users
    left out, `left_out`); per_user: (U,) true value of every deterministic policy's
    lists."""

    rows: list[dict[str, float | str | None]]
    per_user: dict[str, np.ndarray]
    left_out: np.ndarray
    logged_clicks: int


def compare_policies(
    world: ReplayWorld,
    impressions: int,
    *,
    seed: int = 0,
    logger_epsilon: float = 0.5,
    sasrec_epochs: int = 100,
    settings: ReinforceSettings | None = None,
    threads: int | None = 1,
) -> PolicyComparison:
    """Log `impressions` lists with the popularity logger, then value, from the full
    labels, supervised SASRec's lists against policies learned from that log."""
    from scipy.stats import ttest_rel

    from lmrec.feedback.bandits import oracle_value
    from lmrec.feedback.simulator import log_lists, true_value

    if impressions < 1:
        raise ConfigError(f"impressions must be at least 1, not {impressions}")
    settings = settings or ReinforceSettings(seed=seed)
    logger = EpsilonListPolicy(world.popularity_order, logger_epsilon, world.k)
    log = log_lists(world, logger, impressions, np.random.default_rng(seed))
    base = fit_supervised(world, epochs=sasrec_epochs, seed=seed, threads=threads)
    per_user = {
        # candidates are in EASE's order, best first
        "EASE, greedy": list_values(world, -world.model_order.astype(np.float64)),
        "SASRec, supervised": list_values(world, supervised_scores(base, world)),
    }
    for name, change in VARIANTS.items():
        variant = ReinforceSettings(**{**settings.__dict__, **change})
        per_user[name] = list_values(world, train_reinforce(world, log, logger, base, variant))
    left_out = np.random.default_rng(seed + 1).random(world.n_users) < LEFT_OUT_SHARE
    kept = ~left_out[log.users]
    kept_log = ListLog(log.users[kept], log.shown[kept], log.clicks[kept])
    top_k = ReinforceSettings(**{**settings.__dict__, "top_k": True, "warm_start": False})
    per_user[LEFT_OUT] = list_values(world, train_reinforce(world, kept_log, logger, base, top_k))
    best = oracle_value(world)
    rows: list[dict[str, float | str | None]] = [
        _row(f"logger: epsilon {logger_epsilon:g} by popularity", true_value(world, logger), best)
    ]
    everyone = np.ones(world.n_users, dtype=bool)
    for name, values in per_user.items():
        users = left_out if name == LEFT_OUT else everyone
        reference = per_user["SASRec, supervised"][users]
        mine = values[users]
        compared = name != "SASRec, supervised"
        rows.append(
            _row(
                name,
                float(mine.mean()),
                best,
                float(mine.mean() - reference.mean()) if compared else None,
                float(ttest_rel(mine, reference).pvalue) if compared else None,
            )
        )
    rows.append(_row("best lists (from the labels)", best, best))
    return PolicyComparison(rows, per_user, left_out, int(log.clicks.sum()))


def _row(
    name: str,
    value: float,
    best: float,
    difference: float | None = None,
    p_value: float | None = None,
) -> dict[str, float | str | None]:
    return {
        "policy": name,
        "clicks per list": value,
        "share of best": value / best,
        "vs supervised SASRec": difference,
        "p (paired)": p_value,
    }
