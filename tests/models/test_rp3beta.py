import math

import numpy as np
import pandas as pd
import pytest

from lmrec.core.query import Query
from lmrec.data.dataset import Dataset, from_frame
from lmrec.errors import ConfigError
from lmrec.models.neighbours import rp3beta
from lmrec.models.neighbours.rp3beta import RP3beta, rp3beta_weights
from lmrec.testing import RecommenderContract, rng_interactions


class TestRP3beta(RecommenderContract):
    model_name = "rp3beta"
    fold_in_matches_known = True


def _walks() -> Dataset:
    """u0: i0 i1 / u1: i1 i2 / u2: i1 i2 i3, so deg(i) = 1, 3, 2, 1 and deg(u) = 2, 2, 3."""
    pairs = [("u0", "i0"), ("u0", "i1"), ("u1", "i1"), ("u1", "i2")]
    pairs += [("u2", "i1"), ("u2", "i2"), ("u2", "i3")]
    return from_frame(pd.DataFrame(pairs, columns=["user_id", "item_id"]))


def test_weights_are_two_step_walks_divided_by_popularity() -> None:
    data = _walks()
    weights = RP3beta(alpha=1.0, beta=0.5, neighbors=10).fit(data).weights_.toarray()
    # walk probabilities worked out by hand, e.g. i1 -> i2: via u1 1/3·1/2 + via u2 1/3·1/3
    walks = np.array(
        [
            [0, 1 / 2, 0, 0],
            [1 / 6, 0, 5 / 18, 1 / 9],
            [0, 5 / 12, 0, 1 / 6],
            [0, 1 / 3, 1 / 3, 0],
        ]
    )
    penalty = np.array([1, 3, 2, 1]) ** -0.5
    np.testing.assert_allclose(weights, walks * penalty, rtol=1e-6)


def test_alpha_raises_each_step_to_its_power() -> None:
    weights = RP3beta(alpha=2.0, beta=0.0).fit(_walks()).weights_.toarray()
    assert weights[1, 2] == pytest.approx((1 / 3) ** 2 * (1 / 2) ** 2 + (1 / 3) ** 2 * (1 / 3) ** 2)
    assert weights[0, 1] == pytest.approx((1 / 2) ** 2)


def test_beta_prefers_the_less_popular_of_equally_likely_items() -> None:
    data = _walks()
    # from i3 the walk reaches i1 and i2 equally often; i1 is the more popular one
    plain = RP3beta(beta=0.0).fit(data).score(Query(history=["i3"]))
    assert plain[1] == pytest.approx(plain[2])
    penalised = RP3beta(beta=0.5).fit(data).recommend(Query(history=["i3"], k=1))
    assert penalised.item_ids == ["i2"]


def test_neighbors_keeps_the_strongest_walks_per_item() -> None:
    weights = RP3beta(alpha=1.0, beta=0.5, neighbors=1).fit(_walks()).weights_.toarray()
    # per row: i0 -> i1; i1 -> i2 (5/18/√2 > 1/6); i2 -> i1 (5/12/√3 > 1/6); i3 -> i2
    assert [np.flatnonzero(row).tolist() for row in weights] == [[1], [2], [1], [2]]


def test_normalize_makes_each_row_sum_to_one() -> None:
    weights = RP3beta(normalize=True).fit(_walks()).weights_
    np.testing.assert_allclose(np.asarray(weights.sum(axis=1)).ravel(), 1.0, rtol=1e-6)


@pytest.mark.parametrize("dense_share", [0.0, math.inf])
def test_chunks_and_top_k_paths_give_the_same_weights(monkeypatch, dense_share: float) -> None:
    binary = rng_interactions(n_users=40, n_items=25, seed=2).binary_csr
    whole = rp3beta_weights(binary, 0.8, 0.4, 6, False)
    monkeypatch.setattr(rp3beta, "_CHUNK_FLOATS", 30)  # one item per chunk
    monkeypatch.setattr(rp3beta, "_DENSE_SHARE", dense_share)  # force one top-k path
    chunked = rp3beta_weights(binary, 0.8, 0.4, 6, False)
    np.testing.assert_allclose(chunked.toarray(), whole.toarray(), rtol=1e-6)
    assert (np.diff(chunked.indptr) <= 6).all()


def test_items_nobody_touched_score_zero() -> None:
    data = _walks()
    model = RP3beta().fit(data.subset(data.items_idx != 3))
    assert model.score_users(np.arange(3))[:, 3].tolist() == [0.0, 0.0, 0.0]


def test_negative_beta_is_refused() -> None:
    with pytest.raises(ConfigError, match="beta"):
        RP3beta(beta=-0.1)
