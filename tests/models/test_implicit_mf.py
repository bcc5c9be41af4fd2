from typing import Any, ClassVar

import numpy as np

from lmrec.models.factorisation.implicit_mf import ALS, BPR
from lmrec.testing import RecommenderContract, blocks


class TestALS(RecommenderContract):
    model_name = "als"
    model_config: ClassVar[dict[str, Any]] = {
        "factors": 6,
        "regularization": 1.0,
        "alpha": 2.0,
        "iterations": 30,
        "num_threads": 1,
    }
    stochastic = True


class TestBPR(RecommenderContract):
    model_name = "bpr"
    model_config: ClassVar[dict[str, Any]] = {
        "factors": 8,
        "learning_rate": 0.05,
        "iterations": 200,
    }
    stochastic = True
    quality_exact = False


def test_als_fold_in_of_a_known_history_matches_its_trained_user() -> None:
    data = blocks()
    model = ALS(factors=8, regularization=0.5, iterations=30, num_threads=1).fit(data.train)
    users = np.arange(data.train.n_users)
    direct = model.score_users(users)
    folded = model.score_histories(model.history_[users])
    # the trained factors come from conjugate-gradient steps, the fold-in is an exact solve
    np.testing.assert_allclose(folded, direct, atol=0.05)
    assert (direct.argmax(axis=1) == folded.argmax(axis=1)).all()


def test_bpr_item_vectors_drop_the_bias_column() -> None:
    data = blocks()
    model = BPR(factors=8, iterations=5).fit(data.train)
    assert model.item_factors_ is not None
    assert model.item_vectors().shape == (data.train.n_items, model.item_factors_.shape[1] - 1)
