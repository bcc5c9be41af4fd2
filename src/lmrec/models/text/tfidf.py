"""TF-IDF content baseline: the classic bag-of-words profile on the same item text.

The same profile logic as the `content` model (lmrec.models.text.profiles), on sparse TF-IDF vectors
from scikit-learn instead of language-model embeddings; it needs no torch. The vocabulary
and idf weights are saved as arrays, so a loaded model embeds new items without pickle.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
from pydantic import Field

from lmrec.models.text.profile_base import ProfileConfig, ProfileRecommender, Vectors


class TfidfConfig(ProfileConfig):
    #: ignore terms in fewer items than this
    min_df: int = Field(1, ge=1)
    #: ignore terms in more than this share of items (1.0 keeps all)
    max_df: float = Field(1.0, gt=0.0, le=1.0)
    #: keep at most this many terms (the most frequent), None = all
    max_features: int | None = Field(None, ge=1)
    #: also use word pairs (2) or triples (3)
    ngram_max: int = Field(1, ge=1, le=3)
    #: 1 + log(tf) instead of raw counts
    sublinear_tf: bool = True
    stop_words: Literal["english"] | None = "english"


class TfidfRecommender(ProfileRecommender[TfidfConfig]):
    """score(user, item) = cosine(user profile, TF-IDF vector of the item's text)."""

    name = "tfidf"
    state_attrs = (*ProfileRecommender.profile_state, "item_matrix_", "vocabulary_", "idf_")
    tuning_grid: ClassVar[dict[str, list[Any]]] = {
        "value_weighting": ["value", "binary"],
        "ngram_max": [1, 2],
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.item_matrix_: sp.csr_matrix | None = None
        self.vocabulary_: np.ndarray | None = None  # term of each column
        self.idf_: np.ndarray | None = None
        self._vectorizer: Any = None

    def _new_vectorizer(self, vocabulary: dict[str, int] | None = None) -> Any:
        from sklearn.feature_extraction.text import TfidfVectorizer

        c = self.config
        return TfidfVectorizer(
            min_df=c.min_df,
            max_df=c.max_df,
            max_features=c.max_features,
            ngram_range=(1, c.ngram_max),
            sublinear_tf=c.sublinear_tf,
            stop_words=c.stop_words,
            vocabulary=vocabulary,
            dtype=np.float32,
        )

    # ---- ProfileRecommender hooks ----------------------------------------------------------
    def _fit_item_space(self, texts: list[str]) -> None:
        vectorizer = self._new_vectorizer()
        present = [t for t in texts if t]
        try:
            vectorizer.fit(present)
        except ValueError:  # every word is a stop word or below min_df
            vectorizer = self._new_vectorizer()
            vectorizer.set_params(stop_words=None, min_df=1, max_df=1.0)
            vectorizer.fit(present)
        self._vectorizer = vectorizer
        self.vocabulary_ = np.asarray(vectorizer.get_feature_names_out(), dtype=str)
        self.idf_ = vectorizer.idf_.astype(np.float32)
        self.item_matrix_ = self._represent(texts)

    def _represent(self, texts: list[str]) -> Vectors:
        if self._vectorizer is None:
            self._restore_vectorizer()
        # Words the fitted vocabulary lacks are ignored (idf is not refitted on add_items).
        return sp.csr_matrix(self._vectorizer.transform(texts), dtype=np.float32)

    def _restore_vectorizer(self) -> None:
        assert self.vocabulary_ is not None and self.idf_ is not None
        vocabulary = {str(t): i for i, t in enumerate(self.vocabulary_)}
        vectorizer = self._new_vectorizer(vocabulary)
        vectorizer.idf_ = self.idf_.astype(np.float64)
        self._vectorizer = vectorizer

    def _item_space(self) -> sp.csr_matrix:
        assert self.item_matrix_ is not None
        return self.item_matrix_

    def _set_item_space(self, vectors: Vectors) -> None:
        self.item_matrix_ = sp.csr_matrix(vectors, dtype=np.float32)

    def _after_load(self) -> None:
        super()._after_load()
        self._vectorizer = None  # rebuilt from vocabulary_ and idf_ when first needed

    # ---- similar items: cosine on the sparse vectors (no dense copy of the matrix) ---------
    def similar_scores(self, i: int) -> np.ndarray:
        x = self._item_space()
        sims = np.asarray((x @ x[i].T).toarray()).ravel().astype(np.float64)
        assert self.has_text_ is not None
        sims[~self.has_text_] = -np.inf
        return sims
