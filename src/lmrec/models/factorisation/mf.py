"""Biased matrix factorisation for explicit ratings, trained by alternating least squares.

prediction(u, i) = mean + b_u + b_i + p_u · q_i

Hand-written because no well-kept library fits: `implicit` covers implicit feedback only
and the explicit-rating libraries loop per interaction in Python or are unmaintained.
Each half-step solves every user's (or item's) ridge problem at once: the per-row Gram
matrices come from one sparse x dense product with the items' flattened outer products,
then a batched `np.linalg.solve`.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from lmrec.data.dataset import Dataset
from lmrec.models.base import ModelConfig, Recommender

#: floats per Gram-matrix chunk (128 MiB of float64), bounding memory on big data
_CHUNK_FLOATS = 1 << 24


class BiasedMFConfig(ModelConfig):
    factors: int = Field(default=32, gt=0)
    #: ridge penalty on the factor vectors, multiplied by each row's rating count
    #: (weighted-lambda regularisation, Zhou et al. 2008)
    regularization: float = Field(default=0.12, gt=0)
    #: ridge penalty on the user and item biases, also scaled by rating count
    bias_regularization: float = Field(default=0.05, gt=0)
    iterations: int = Field(default=15, gt=0)
    #: standard deviation of the random initial item factors
    init_scale: float = Field(default=0.1, gt=0)
    #: rating given to items of an ad-hoc history that come without ratings (fold-in);
    #: None = the highest rating seen in training (presence read as "liked")
    history_rating: float | None = None


class BiasedMF(Recommender[BiasedMFConfig]):
    """Rating prediction (RMSE/MAE) with `predict`; ranks items by predicted rating."""

    name = "mf"
    state_attrs = (
        "user_factors_",
        "item_factors_",
        "user_bias_",
        "item_bias_",
        "global_mean_",
        "rating_range_",
    )
    tuning_grid: ClassVar[dict[str, list[Any]]] = {
        "factors": [16, 64],
        "regularization": [0.08, 0.12, 0.2],
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user_factors_: np.ndarray | None = None
        self.item_factors_: np.ndarray | None = None
        self.user_bias_: np.ndarray | None = None
        self.item_bias_: np.ndarray | None = None
        self.global_mean_: np.ndarray | None = None  # shape (), kept as an array to save
        self.rating_range_: np.ndarray | None = None  # [lowest, highest] training rating

    # ---- training ---------------------------------------------------------------------------
    def _fit(self, train: Dataset, valid: Dataset | None) -> None:
        cfg = self.config
        ratings = _latest_ratings(train)
        by_item = ratings.T.tocsr()
        mean = float(ratings.data.mean()) if ratings.nnz else 0.0
        rng = np.random.default_rng(cfg.seed)
        item_f = rng.normal(0.0, cfg.init_scale, (train.n_items, cfg.factors))
        item_b = np.zeros(train.n_items)
        user_f = np.zeros((train.n_users, cfg.factors))
        user_b = np.zeros(train.n_users)
        for _ in range(cfg.iterations):
            user_f, user_b = self._solve(ratings, mean, item_f, item_b)
            item_f, item_b = self._solve(by_item, mean, user_f, user_b)
        self.user_factors_ = user_f.astype(np.float32)
        self.user_bias_ = user_b.astype(np.float32)
        self.item_factors_ = item_f.astype(np.float32)
        self.item_bias_ = item_b.astype(np.float32)
        self.global_mean_ = np.array(mean, dtype=np.float64)
        lo, hi = (ratings.data.min(), ratings.data.max()) if ratings.nnz else (0.0, 0.0)
        self.rating_range_ = np.array([lo, hi], dtype=np.float64)

    def _solve(
        self, rows: sp.csr_matrix, mean: float, other_f: np.ndarray, other_b: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Factors and biases of every row of `rows` with the other side held fixed."""
        cfg = self.config
        feats = np.hstack([other_f, np.ones((other_f.shape[0], 1))])  # last column: bias
        penalty = np.full(feats.shape[1], cfg.regularization)
        penalty[-1] = cfg.bias_regularization
        residual = rows.copy().astype(np.float64)
        residual.data -= mean + other_b[residual.indices]
        solved = _batched_ridge(residual, feats, penalty)
        return solved[:, :-1], solved[:, -1]

    # ---- prediction -------------------------------------------------------------------------
    def predict(self, user_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray:
        """Predicted ratings for (user index, item index) pairs, clipped to the training
        rating range (float32)."""
        self._require_fitted()
        assert self.user_factors_ is not None and self.item_factors_ is not None
        assert self.user_bias_ is not None and self.item_bias_ is not None
        assert self.rating_range_ is not None
        u = np.asarray(user_idx, dtype=np.int64)
        i = np.asarray(item_idx, dtype=np.int64)
        dots = np.einsum("ij,ij->i", self.user_factors_[u], self.item_factors_[i])
        raw = self._mean() + self.user_bias_[u] + self.item_bias_[i] + dots
        return np.clip(raw, *self.rating_range_).astype(np.float32)

    def score_users(self, users: np.ndarray) -> np.ndarray:
        assert self.user_factors_ is not None and self.user_bias_ is not None
        return self._scores(self.user_factors_[users], self.user_bias_[users])

    def _mean(self) -> float:
        assert self.global_mean_ is not None
        return float(self.global_mean_)

    def _scores(self, user_f: np.ndarray, user_b: np.ndarray) -> np.ndarray:
        # Unclipped, so items above the top of the scale still rank in order.
        assert self.item_factors_ is not None and self.item_bias_ is not None
        out = user_f @ self.item_factors_.T
        out += user_b[:, None] + self.item_bias_[None, :] + self._mean()
        return np.asarray(out, dtype=np.float32)

    def item_vectors(self) -> np.ndarray:
        assert self.item_factors_ is not None
        return self.item_factors_

    # ---- fold-in ----------------------------------------------------------------------------
    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        """Scores for rows of ratings: each row's user vector and bias are solved against
        the fixed item factors, as one more ALS half-step would."""
        self._require_fitted()
        assert self.item_factors_ is not None and self.item_bias_ is not None
        rows = sp.csr_matrix(histories, dtype=np.float64)
        user_f, user_b = self._solve(
            rows,
            self._mean(),
            self.item_factors_.astype(np.float64),
            self.item_bias_.astype(np.float64),
        )
        return self._scores(user_f.astype(np.float32), user_b.astype(np.float32))

    def _history_row(self, user: int | None, extra: np.ndarray) -> sp.csr_matrix:
        """A ratings row: the known user's training ratings plus the history's items, which
        come without ratings and count as `history_rating`."""
        assert self.history_ is not None and self.rating_range_ is not None
        cfg = self.config
        given = cfg.history_rating if cfg.history_rating is not None else self.rating_range_[1]
        row = np.zeros(self.history_.shape[1], dtype=np.float32)
        row[extra] = given
        if user is not None:
            known = self.history_[user]
            # Duplicated training ratings were summed in history_; keep them on the scale.
            row[known.indices] = np.clip(known.data, *self.rating_range_)
        return sp.csr_matrix(row[None, :])


def _latest_ratings(train: Dataset) -> sp.csr_matrix:
    """User x item ratings where a pair rated more than once keeps its latest rating."""
    order = np.lexsort(
        (np.arange(train.n_interactions), train.timestamps, train.items_idx, train.users_idx)
    )
    u, i, v = train.users_idx[order], train.items_idx[order], train.values[order]
    last = np.ones(len(u), dtype=bool)
    last[:-1] = (u[1:] != u[:-1]) | (i[1:] != i[:-1])
    m = sp.csr_matrix((v[last], (u[last], i[last])), shape=(train.n_users, train.n_items))
    m.sort_indices()
    return m


def _batched_ridge(targets: sp.csr_matrix, feats: np.ndarray, penalty: np.ndarray) -> np.ndarray:
    """For each row r: argmin_x sum_j (t_rj - feats_j · x)² + n_r · sum_k penalty_k x_k²,
    over the stored entries j of row r, solved for all rows in batches."""
    n_rows, n_cols = targets.shape
    d = feats.shape[1]
    presence = sp.csr_matrix(targets, dtype=np.float32, copy=True)
    presence.data[:] = 1.0
    counts = np.diff(targets.indptr)
    rhs = np.asarray(targets @ feats)
    out = np.zeros((n_rows, d))
    # Gram matrices are symmetric: build only the upper triangle (half the work).
    iu, ju = np.triu_indices(d)
    chunk = max(1, _CHUNK_FLOATS // len(iu))
    diag = np.arange(d)
    for rs in range(0, n_rows, chunk):
        re = min(rs + chunk, n_rows)
        block = presence[rs:re]
        upper = np.zeros((re - rs, len(iu)), dtype=np.float32)
        for cs in range(0, n_cols, chunk):
            ce = min(cs + chunk, n_cols)
            f = feats[cs:ce].astype(np.float32)
            # float32 halves the memory traffic of this product, the cost of a half-step
            outer = f[:, iu] * f[:, ju]
            part = block if (cs == 0 and ce == n_cols) else block[:, cs:ce]
            upper += part @ outer
        gram = np.zeros((re - rs, d, d))
        gram[:, iu, ju] = upper
        gram[:, ju, iu] = upper
        # max(count, 1) keeps rows without ratings solvable (they get zeros).
        gram[:, diag, diag] += np.maximum(counts[rs:re], 1)[:, None] * penalty[None, :]
        out[rs:re] = np.linalg.solve(gram, rhs[rs:re, :, None])[..., 0]
    return out
