"""NCF (NeuMF): the shared contract plus a two-block structure it must learn."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

from lmrec.data.dataset import from_frame
from lmrec.models.registry import create_model
from lmrec.testing import RecommenderContract

FAST = {"factors": 8, "layers": (16, 8), "lr": 0.01, "batch_size": 256, "threads": 1}


class TestNCFContract(RecommenderContract):
    model_name = "ncf"
    model_config: ClassVar[dict[str, Any]] = {**FAST, "epochs": 25}
    stochastic = True
    # pointwise BCE with sampled negatives ranks the held-out item high, not always first
    quality_exact = False
    quality_k = 3
    quality_min_hit_rate = 0.8


def test_learns_two_blocks() -> None:
    """Users of block b only ever touch items of block b: their top unseen items must all
    come from their own block."""
    rng = np.random.default_rng(0)
    rows = []
    for u in range(40):
        block = u % 2
        own = [f"i{block * 10 + j}" for j in range(10)]
        rows += [(f"u{u}", item) for item in rng.choice(own, 6, replace=False)]
    data = from_frame(pd.DataFrame(rows, columns=["user_id", "item_id"]))
    model = create_model("ncf", {**FAST, "lr": 0.005, "epochs": 20}).fit(data)
    scores = model.score_users(np.arange(data.n_users))
    assert ((scores >= 0) & (scores <= 1)).all()  # sigmoid outputs
    top, _ = model.recommend_users(np.arange(data.n_users), k=3)
    block_of_item = np.array([int(i[1:]) // 10 for i in model.item_map.ids])
    user_block = np.array([int(u[1:]) % 2 for u in model.user_map.ids])
    assert (block_of_item[top] == user_block[:, None]).all()
