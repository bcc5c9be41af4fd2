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


def test_a_failed_fit_leaves_the_model_unfitted() -> None:
    import pytest

    from lmrec.data.synthetic import generate
    from lmrec.errors import ConfigError, NotFittedError
    from lmrec.models.registry import create_model

    ds = generate(n_users=30, n_items=40, n_interactions=300, seed=0)
    model = create_model("ease", max_items=10)  # too few for this catalogue: fit refuses
    with pytest.raises(ConfigError, match="max_items"):
        model.fit(ds)
    with pytest.raises(NotFittedError):
        model.recommend(ds.user_map.ids[0])
