"""Matrix factorisation for implicit feedback: ALS and BPR from the `implicit` library.

We wrap implicit's CPU models (never its GPU ones, so results do not depend on the
machine) and keep only their factors as state. BLAS is held to one thread while they
train: implicit parallelises over users itself and warns that a threaded BLAS slows it.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar, TypeVar

import numpy as np
import scipy.sparse as sp
from pydantic import Field
from threadpoolctl import threadpool_limits

from lmrec.core.search_space import Float, Int, SearchSpace
from lmrec.data.dataset import Dataset
from lmrec.models.base import ModelConfig, Recommender
from lmrec.models.neighbours.item_item import presence

logging.getLogger("implicit").setLevel(logging.WARNING)


class ALSConfig(ModelConfig):
    factors: int = Field(default=64, gt=0)
    regularization: float = Field(default=20.0, ge=0)
    iterations: int = Field(default=15, gt=0)
    #: confidence of an observed interaction (Hu et al. 2008: c = alpha · presence)
    alpha: float = Field(default=2.0, gt=0)


class BPRConfig(ModelConfig):
    factors: int = Field(default=64, gt=0)
    learning_rate: float = Field(default=0.005, gt=0)
    regularization: float = Field(default=0.01, ge=0)
    iterations: int = Field(default=100, gt=0)
    #: ridge penalty of the least-squares projection that folds in a new history
    fold_in_regularization: float = Field(default=10.0, gt=0)


FC = TypeVar("FC", bound=ModelConfig)


class _FactorModel(Recommender[FC]):
    """Shared state and scoring of a user-factor x item-factor model."""

    state_attrs = ("user_factors_", "item_factors_")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user_factors_: np.ndarray | None = None
        self.item_factors_: np.ndarray | None = None

    def score_users(self, users: np.ndarray) -> np.ndarray:
        assert self.user_factors_ is not None and self.item_factors_ is not None
        return np.asarray(self.user_factors_[users] @ self.item_factors_.T, dtype=np.float32)

    def user_vectors(self, users: np.ndarray) -> np.ndarray:
        assert self.user_factors_ is not None
        return self.user_factors_[np.asarray(users, dtype=np.int64)]

    def item_factors(self) -> np.ndarray:
        assert self.item_factors_ is not None
        return self.item_factors_

    def item_vectors(self) -> np.ndarray:
        return self.item_factors()

    def _train(self, implicit_model: Any, train: Dataset) -> None:
        with threadpool_limits(1, "blas"):
            implicit_model.fit(presence(train.csr), show_progress=False)
        self.user_factors_ = np.ascontiguousarray(implicit_model.user_factors, np.float32)
        self.item_factors_ = np.ascontiguousarray(implicit_model.item_factors, np.float32)


class ALS(_FactorModel[ALSConfig]):
    """Weighted ALS for implicit feedback (Hu, Koren & Volinsky 2008), conjugate-gradient
    training; new histories fold in by solving their user factors exactly."""

    name = "als"
    tuning_grid: ClassVar[dict[str, list[Any]]] = {
        "factors": [16, 64],
        "regularization": [5.0, 20.0, 50.0],
    }
    search_space: ClassVar[SearchSpace] = {
        "factors": Int(16, 256, log=True),
        "regularization": Float(0.01, 200.0, log=True),
        "alpha": Float(0.1, 50.0, log=True),
        "iterations": Int(5, 30),
    }

    def _implicit_model(self) -> Any:
        from implicit.cpu.als import AlternatingLeastSquares

        cfg = self.config
        with threadpool_limits(1, "blas"):
            return AlternatingLeastSquares(
                factors=cfg.factors,
                regularization=cfg.regularization,
                alpha=cfg.alpha,
                iterations=cfg.iterations,
                num_threads=self.options.threads or 0,  # 0: all cores
                random_state=cfg.seed,
            )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._solver: Any = None  # implicit model holding the item factors, for fold-in

    def _fit(self, train: Dataset, valid: Dataset | None) -> None:
        self._train(self._implicit_model(), train)
        self._solver = None

    def _after_load(self) -> None:
        self._solver = None

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        self._require_fitted()
        assert self.item_factors_ is not None
        if self._solver is None:
            # Built once: implicit caches the item Gram matrix on it between calls.
            self._solver = self._implicit_model()
            self._solver.item_factors = self.item_factors_
        solver = self._solver
        rows = presence(histories)
        with threadpool_limits(1, "blas"):
            users = solver.recalculate_user(np.arange(rows.shape[0]), rows)
        return np.asarray(users @ self.item_factors_.T, dtype=np.float32)


class BPR(_FactorModel[BPRConfig]):
    """Bayesian Personalised Ranking (Rendle et al. 2009) by SGD on sampled pairs.

    implicit appends an item-bias column to the item factors (the user side holds 1).
    BPR has no closed-form user solve, so a new history folds in by a ridge
    least-squares projection onto the item factors: u = (VᵀV + λI)⁻¹ Vᵀ h, the user vector
    whose scores best reproduce the history (an approximation of refitting).
    """

    name = "bpr"
    tuning_grid: ClassVar[dict[str, list[Any]]] = {
        "factors": [32, 64],
        "learning_rate": [0.003, 0.005, 0.01],
    }

    def _fit(self, train: Dataset, valid: Dataset | None) -> None:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        cfg = self.config
        with threadpool_limits(1, "blas"):
            model = BayesianPersonalizedRanking(
                factors=cfg.factors,
                learning_rate=cfg.learning_rate,
                regularization=cfg.regularization,
                iterations=cfg.iterations,
                # Several threads update the factors lock-free (Hogwild), so only one
                # thread gives the same factors for the same seed: one unless asked.
                num_threads=self.options.threads or 1,
                random_state=cfg.seed,
            )
        self._train(model, train)

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        self._require_fitted()
        assert self.item_factors_ is not None
        cfg = self.config
        v = self.item_factors_.astype(np.float64)
        gram = v.T @ v + cfg.fold_in_regularization * np.eye(v.shape[1])
        users = np.linalg.solve(gram, (presence(histories) @ v).T).T
        return np.asarray(users @ v.T, dtype=np.float32)

    def item_vectors(self) -> np.ndarray:
        # Similarity between items is in the latent factors, not the popularity bias.
        return self.item_factors()[:, :-1]
