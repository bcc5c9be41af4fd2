from typing import Any, ClassVar

import numpy as np
import pytest

from lmrec.errors import ConfigError
from lmrec.models.neighbours.ease import EASE
from lmrec.testing import RecommenderContract, blocks, rng_interactions


class TestEASE(RecommenderContract):
    model_name = "ease"
    model_config: ClassVar[dict[str, Any]] = {"reg": 1.0}
    fold_in_matches_known = True


def test_weights_match_the_closed_form() -> None:
    data = rng_interactions(n_users=25, n_items=12, seed=3)
    reg = 5.0
    model = EASE(reg=reg).fit(data)
    x = data.binary_csr.toarray().astype(np.float64)
    p = np.linalg.inv(x.T @ x + reg * np.eye(x.shape[1]))
    expected = -p / np.diag(p)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(model.weights_, expected, rtol=1e-4, atol=1e-6)
    assert np.all(np.diag(model.weights_) == 0)


def test_float32_close_to_float64() -> None:
    data = rng_interactions(seed=4)
    w64 = EASE(reg=2.0, dtype="float64").fit(data).weights_
    w32 = EASE(reg=2.0, dtype="float32").fit(data).weights_
    np.testing.assert_allclose(w32, w64, atol=1e-4)


def test_refuses_catalogue_over_max_items() -> None:
    data = blocks()
    with pytest.raises(ConfigError, match="max_items"):
        EASE(max_items=5).fit(data.train)


def test_reg_must_be_positive() -> None:
    with pytest.raises(ConfigError, match="reg"):
        EASE(reg=0)


def test_similar_items_follow_the_weights() -> None:
    data = blocks()
    model = EASE(reg=1.0).fit(data.train)
    recs = model.similar_items("i0", k=5)
    # items of i0's own group carry the largest weights from i0
    assert set(recs.item_ids) <= set(data.group_items[0])
