"""Fair ties: a model that cannot tell items apart scores like the random model."""

from __future__ import annotations

import numpy as np
import pytest

from lmrec.core.ranking import tie_priority
from lmrec.data.dataset import Dataset
from lmrec.data.splitters import make_split
from lmrec.data.synthetic import generate
from lmrec.evaluation import evaluate
from lmrec.evaluation.runner import EvaluationResult
from lmrec.models.base import ModelConfig, Recommender
from lmrec.models.registry import create_model


class Constant(Recommender[ModelConfig]):
    """The same score for every item: every ranking it gives is a tie."""

    name = "constant"

    def _fit(self, train: Dataset, valid: Dataset | None) -> None:
        pass

    def score_users(self, users: np.ndarray) -> np.ndarray:
        return np.zeros((len(users), self.n_items), dtype=np.float32)


@pytest.fixture(scope="module")
def data() -> Dataset:
    # enough users that a paired interval is tight (about +-0.003 NDCG@10)
    return generate(n_users=8000, n_items=300, n_interactions=120_000, seed=3, with_text=False)


def _same_as_random(result: EvaluationResult, random: EvaluationResult) -> bool:
    """The paired 95% interval of (result - random) on NDCG@10 holds zero."""
    test = random.compare(result, "ndcg@10")
    return test.diff_ci_low <= 0.0 <= test.diff_ci_high


def test_constant_scores_rank_like_random(data: Dataset) -> None:
    split = make_split(data, "loo")
    exclude = [split.train, split.valid]
    constant = evaluate(Constant().fit(split.train), split.test, exclude=exclude)
    random = evaluate(create_model("random").fit(split.train), split.test, exclude=exclude)
    assert _same_as_random(constant, random)
    other_seed = evaluate(Constant().fit(split.train), split.test, exclude=exclude, tie_seed=1)
    assert _same_as_random(other_seed, random)


def test_popularity_on_new_items_ranks_like_random(data: Dataset) -> None:
    split = make_split(data, "cold-items", seed=1)
    cold = np.flatnonzero(split.train.item_counts() == 0)
    exclude = [split.train, split.valid]
    pop_model = create_model("pop").fit(split.train)
    pop = evaluate(pop_model, split.test, exclude=exclude, candidates=cold)
    random = evaluate(
        create_model("random").fit(split.train), split.test, exclude=exclude, candidates=cold
    )
    assert _same_as_random(pop, random)


def test_every_model_in_an_evaluation_shares_the_tie_order(data: Dataset) -> None:
    """Two models that give the same ties get the same lists: the order depends on the
    evaluation's seed and the user, not on the model."""
    split = make_split(data, "loo")
    a = evaluate(Constant().fit(split.train), split.test, exclude=split.train, tie_seed=5)
    pop = create_model("pop").fit(split.train)
    pop.popularity_ = np.zeros_like(pop.popularity_)  # every item tied, as for Constant
    b = evaluate(pop, split.test, exclude=split.train, tie_seed=5)
    assert a.meta["tie_seed"] == 5
    np.testing.assert_array_equal(a.per_user.to_numpy(), b.per_user.to_numpy())
    c = evaluate(Constant().fit(split.train), split.test, exclude=split.train, tie_seed=6)
    assert not np.array_equal(a.per_user.to_numpy(), c.per_user.to_numpy())
    assert tie_priority([0], 4, 5).shape == (1, 4)
