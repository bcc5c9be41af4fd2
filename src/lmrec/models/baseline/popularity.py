"""Floors every other model must beat: random and most-popular."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from lmrec.data.dataset import Dataset
from lmrec.models.base import ModelConfig, Recommender


class RandomConfig(ModelConfig):
    pass


class RandomRecommender(Recommender[RandomConfig]):
    """Uniformly random scores, reproducible per (seed, user)."""

    name = "random"

    def _fit(self, train: Dataset, valid: Dataset | None) -> None:
        pass

    def score_users(self, users: np.ndarray) -> np.ndarray:
        # One generator per user keeps batch scores equal to single-user scores.
        out = np.empty((len(users), self.n_items), dtype=np.float32)
        for row, u in enumerate(users):
            out[row] = np.random.default_rng([self.config.seed, int(u)]).random(self.n_items)
        return out

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        rng = np.random.default_rng(self.config.seed)
        return rng.random((histories.shape[0], self.n_items)).astype(np.float32)


class PopConfig(ModelConfig):
    #: count distinct users per item ("users") or sum interaction values ("values")
    weight: Literal["users", "values"] = "users"


class PopularityRecommender(Recommender[PopConfig]):
    """Most-interacted items first; the same list for everyone."""

    name = "pop"
    state_attrs = ("popularity_",)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.popularity_: np.ndarray | None = None

    def _fit(self, train: Dataset, valid: Dataset | None) -> None:
        m = train.binary_csr if self.config.weight == "users" else train.csr
        self.popularity_ = np.asarray(m.sum(axis=0)).ravel().astype(np.float32)

    def score_users(self, users: np.ndarray) -> np.ndarray:
        assert self.popularity_ is not None
        return np.broadcast_to(self.popularity_, (len(users), self.n_items)).copy()

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        return self.score_users(np.zeros(histories.shape[0], dtype=np.int64))
