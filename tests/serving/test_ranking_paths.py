"""One ranking path: the service's item-index answer equals the model's own list."""

from __future__ import annotations

import numpy as np
import pandas as pd

from lmrec.core.query import Query
from lmrec.data.dataset import Dataset, from_frame
from lmrec.models.base import ModelConfig, Recommender
from lmrec.serving.live import build_live
from lmrec.serving.recommend import recommend

GENRES = ["Comedy", "Drama", "Action", "Horror", "Western", "Noir", "Comedy|Drama", "Action|War"]


class IntegerFactors(Recommender[ModelConfig]):
    """Inner products of small integer factors: exact in float32 and full of ties, so
    any difference in exclusion, filtering or tie-breaking between two paths shows."""

    name = "integer-factors"
    state_attrs = ("user_factors_", "item_factors_")

    def _fit(self, train: Dataset, valid: Dataset | None) -> None:
        rng = np.random.default_rng(self.config.seed)
        self.user_factors_ = rng.integers(-2, 3, (train.n_users, 3)).astype(np.float32)
        self.item_factors_ = rng.integers(-2, 3, (train.n_items, 3)).astype(np.float32)

    def score_users(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors_[users] @ self.item_factors_.T

    def user_vectors(self, users: np.ndarray) -> np.ndarray:
        return self.user_factors_[users]

    def item_factors(self) -> np.ndarray:
        return self.item_factors_


def _data(rng: np.random.Generator) -> Dataset:
    n_users, n_items = 40, 300
    rows = [(f"u{u}", f"i{i}") for u in range(n_users) for i in rng.choice(n_items, 12, False)]
    items = pd.DataFrame(
        {
            "item_id": [f"i{i}" for i in range(n_items)],
            "genre": [GENRES[i % len(GENRES)] for i in range(n_items)],
        }
    )
    return from_frame(pd.DataFrame(rows, columns=["user_id", "item_id"]), items=items)


def test_index_path_and_model_give_identical_lists() -> None:
    rng = np.random.default_rng(7)
    data = _data(rng)
    model = IntegerFactors().fit(data)
    live = build_live("m", "1", model, {}, ann_threshold=10**9)
    assert live.index is not None and live.inner is model
    users, items = data.user_map.ids, data.item_map.ids
    for _ in range(300):
        query = Query(
            user_id=str(rng.choice(users)),
            k=int(rng.integers(1, 60)),
            exclude=[str(i) for i in rng.choice(items, int(rng.integers(0, 20)))] or None,
            # one genre lets few items through (the index ranks that subset apart)
            filters={"genre": list(rng.choice(["comedy", "drama", "horror", "war"], 2))}
            if rng.random() < 0.5
            else None,
            exclude_seen=bool(rng.random() < 0.7),
        )
        served = recommend(live, query)
        assert not served.cold_start
        own = model.recommend(query)
        assert served.item_ids == own.item_ids, query
        assert served.scores == own.scores
