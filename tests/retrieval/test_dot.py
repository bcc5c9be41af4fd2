"""Which models can be served from an item index."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lmrec.data.dataset import Dataset, from_frame
from lmrec.models.base import Recommender
from lmrec.models.baselines import PopularityRecommender
from lmrec.retrieval import as_dot_product


def tiny() -> Dataset:
    df = pd.DataFrame({"user_id": ["a", "a", "b", "c"], "item_id": ["x", "y", "y", "z"]})
    return from_frame(df)


class FactorModel(Recommender):
    """Scores are user_factors @ item_factors.T (seeded random factors)."""

    name = "factor-test"
    normalise_items = False

    def _fit(self, train: Dataset, valid: Dataset | None) -> None:
        rng = np.random.default_rng(0)
        self.uf = rng.normal(size=(train.n_users, 4)).astype(np.float32)
        self.vf = rng.normal(size=(train.n_items, 4)).astype(np.float32)

    def user_vectors(self, users: np.ndarray) -> np.ndarray:
        return self.uf[users]

    def item_vectors(self) -> np.ndarray:
        if self.normalise_items:
            return self.vf / np.linalg.norm(self.vf, axis=1, keepdims=True)
        return self.vf

    def score_users(self, users: np.ndarray) -> np.ndarray:
        return self.uf[users] @ self.vf.T


def test_factor_model_is_recognised() -> None:
    model = FactorModel().fit(tiny())
    dot = as_dot_product(model)
    assert dot is not None
    np.testing.assert_allclose(
        dot.user_vectors(np.array([1])) @ dot.item_vectors.T,
        model.score_users(np.array([1])),
        rtol=1e-6,
    )


def test_vectors_that_do_not_reproduce_scores_are_refused() -> None:
    model = FactorModel().fit(tiny())
    model.normalise_items = True
    assert as_dot_product(model) is None


def test_model_without_user_vectors_is_refused() -> None:
    assert as_dot_product(PopularityRecommender().fit(tiny())) is None


class FactorAttributesModel(FactorModel):
    """Keeps its factors in `user_factors_`/`item_factors_` (as implicit-based models do)."""

    name = "factor-attr-test"

    def _fit(self, train: Dataset, valid: Dataset | None) -> None:
        super()._fit(train, valid)
        self.user_factors_, self.item_factors_ = self.uf, self.vf

    user_vectors = None  # type: ignore[assignment]

    def item_vectors(self) -> np.ndarray:
        return self.vf / np.linalg.norm(self.vf, axis=1, keepdims=True)  # for similarity only


def test_factor_attributes_are_recognised() -> None:
    model = FactorAttributesModel().fit(tiny())
    dot = as_dot_product(model)
    assert dot is not None
    assert dot.item_vectors is model.item_factors_ or np.array_equal(
        dot.item_vectors, model.item_factors_
    )
