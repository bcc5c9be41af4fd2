"""What every item-to-item model shares: scores are the user's item presence times an
item x item weight matrix (itemknn, ease, rp3beta differ only in how they learn it)."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from lmrec.models.base import Recommender


def presence(rows: sp.csr_matrix) -> sp.csr_matrix:
    """A float32 copy of user x item rows with every stored value set to 1: these models
    learn from what a user touched, not how often or how strongly."""
    out = sp.csr_matrix(rows, dtype=np.float32, copy=True)
    out.data[:] = 1.0
    return out


class ItemItemRecommender(Recommender):
    """Subclasses learn the weights (dense or sparse, row i = what item i points to) into
    the attribute named by `weights_attr`; scoring, fold-in and similar items are here."""

    supports_fold_in = True
    weights_attr: ClassVar[str] = "weights_"

    def _weights(self) -> np.ndarray | sp.csr_matrix:
        self._require_fitted()
        weights = getattr(self, self.weights_attr)
        assert weights is not None
        return weights

    def score_users(self, users: np.ndarray) -> np.ndarray:
        assert self.history_ is not None
        return self.score_histories(self.history_[users])

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        scores = presence(histories) @ self._weights()
        if sp.issparse(scores):
            scores = scores.toarray()
        return np.asarray(scores, dtype=np.float32)

    def _similar_scores(self, i: int) -> np.ndarray:
        # Row i of the weights: how much having item i raises each other item's score.
        row = self._weights()[i]
        return (row.toarray() if sp.issparse(row) else np.asarray(row)).ravel().astype(np.float64)
