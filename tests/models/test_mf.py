from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from lmrec.core.query import Query
from lmrec.data.dataset import from_frame
from lmrec.models.factorisation.mf import BiasedMF
from lmrec.testing import RecommenderContract, blocks


class TestBiasedMF(RecommenderContract):
    model_name = "mf"
    model_config: ClassVar[dict[str, Any]] = {"factors": 4, "regularization": 0.1}
    # two groups, so every unseen item was rated by someone of the user's group
    toy_kwargs: ClassVar[dict[str, Any]] = {"explicit": True, "n_groups": 2, "noise_per_user": 3}
    stochastic = True


def _ratings(rng: np.random.Generator, n_users: int = 40, n_items: int = 30) -> pd.DataFrame:
    """Ratings that follow the model exactly: mean + biases + rank-2 interaction."""
    ub, ib = rng.normal(0, 0.5, n_users), rng.normal(0, 0.5, n_items)
    p, q = rng.normal(0, 0.7, (n_users, 2)), rng.normal(0, 0.7, (n_items, 2))
    mask = rng.random((n_users, n_items)) < 0.6
    u, i = np.nonzero(mask)
    r = 3.0 + ub[u] + ib[i] + np.einsum("ij,ij->i", p[u], q[i])
    return pd.DataFrame({"user_id": u, "item_id": i, "value": r, "timestamp": 0})


def test_recovers_ratings_generated_by_the_model() -> None:
    frame = _ratings(np.random.default_rng(0))
    data = from_frame(frame)
    model = BiasedMF(factors=2, regularization=1e-4, bias_regularization=1e-4).fit(data)
    pred = model.predict(data.users_idx, data.items_idx)
    assert pred.dtype == np.float32
    rmse = float(np.sqrt(np.mean((pred - data.values) ** 2)))
    assert rmse < 0.05


def test_predict_is_clipped_to_the_rating_range() -> None:
    data = blocks(explicit=True, noise_per_user=3).train
    model = BiasedMF(factors=4).fit(data)
    users = np.repeat(np.arange(data.n_users), data.n_items)
    items = np.tile(np.arange(data.n_items), data.n_users)
    pred = model.predict(users, items)
    assert pred.min() >= 1.0 and pred.max() <= 5.0


def test_duplicate_ratings_keep_the_latest() -> None:
    frame = pd.DataFrame(
        {
            "user_id": ["a", "a", "b"],
            "item_id": ["x", "x", "x"],
            "value": [1.0, 5.0, 5.0],
            "timestamp": [1, 2, 1],
        }
    )
    model = BiasedMF(factors=1).fit(from_frame(frame))
    assert float(model.global_mean_) == pytest.approx(5.0)


def test_fold_in_of_new_ratings_follows_the_group() -> None:
    data = blocks(explicit=True, n_groups=2, noise_per_user=3)
    model = BiasedMF(factors=4, regularization=0.1).fit(data.train)
    # a new user who liked group 1's items should be shown group 1's remaining items
    liked = data.group_items[1][:5]
    recs = model.recommend(Query(history=liked, k=3))
    assert set(recs.item_ids) <= set(data.group_items[1][5:])
