import numpy as np

from lmrec.testing import RecommenderContract, blocks


class TestRandom(RecommenderContract):
    model_name = "random"
    check_quality = False
    stochastic = True


class TestPop(RecommenderContract):
    model_name = "pop"
    check_quality = False
    fold_in_matches_known = True


def test_pop_ranks_by_user_count() -> None:
    from lmrec.models.registry import create_model

    data = blocks(n_groups=2, users_per_group=3, items_per_group=4)
    model = create_model("pop").fit(data.train)
    counts = data.train.binary_csr.sum(axis=0).A1
    np.testing.assert_array_equal(model.score_users(np.array([0]))[0], counts)
