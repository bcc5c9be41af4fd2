"""What every item-to-item model shares: scores are the user's item presence times an
item x item weight matrix (itemknn, ease, rp3beta differ only in how they learn it)."""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
import scipy.sparse as sp

from lmrec.models.base import C, Recommender


def presence(rows: sp.csr_matrix) -> sp.csr_matrix:
    """A float32 copy of user x item rows with every stored value set to 1: these models
    learn from what a user touched, not how often or how strongly."""
    out = sp.csr_matrix(rows, dtype=np.float32, copy=True)
    out.data[:] = 1.0
    return out


class ItemItemRecommender(Recommender[C]):
    """Subclasses learn the item x item weights (dense or sparse, row i = what item i
    points to) and return them from `_weights`; scoring, fold-in and similar items are
    here."""

    @abstractmethod
    def _weights(self) -> np.ndarray | sp.csr_matrix:
        """The learned item x item weights (the model is fitted)."""

    def score_users(self, users: np.ndarray) -> np.ndarray:
        self._require_fitted()
        assert self.history_ is not None
        return self.score_histories(self.history_[users])

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        scores = presence(histories) @ self._weights()
        if sp.issparse(scores):
            scores = scores.toarray()
        return np.asarray(scores, dtype=np.float32)

    def similar_scores(self, i: int) -> np.ndarray:
        # Row i of the weights: how much having item i raises each other item's score.
        row = self._weights()[i]
        return (row.toarray() if sp.issparse(row) else np.asarray(row)).ravel().astype(np.float64)
