"""Shared machinery of text-profile models (content, tfidf).

Items live in a vector space built from their text; a user is the weighted mean of
their items' vectors (see lmrec.models.text.profiles); score = cosine(user profile, item vector).
New histories fold in at once, items nobody interacted with are scored from their text,
and new catalogue rows are added without refitting (`add_items`).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar, TypeAlias, TypeVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import Field

from lmrec.data.dataset import Dataset
from lmrec.encoders.text import ItemTextTemplate, default_item_template
from lmrec.errors import DataError
from lmrec.models.base import ModelConfig, Recommender
from lmrec.models.capabilities import AddedItems
from lmrec.models.catalogue import new_item_texts, upsert_items
from lmrec.models.text.profiles import (
    ValueWeighting,
    interaction_weights,
    user_profiles,
    weigh_values,
)

Vectors: TypeAlias = np.ndarray | sp.csr_matrix


class ProfileConfig(ModelConfig):
    #: item text template, e.g. "{title}[ ({year})][. Genres: {genres}]." (None = chosen
    #: from the catalogue's columns); see lmrec.encoders.text for the syntax
    template: str | None = None
    #: an interaction's weight halves every this many days before the user's latest one
    half_life_days: float | None = Field(None, gt=0)
    #: how interaction values weigh items in the profile: raw value, 1, or log(1 + value)
    value_weighting: ValueWeighting = "value"


PC = TypeVar("PC", bound=ProfileConfig)


class ProfileRecommender(Recommender[PC]):
    """Base of models scoring cosine(user profile, item vector) in a text vector space."""

    #: learned state shared by every profile model (subclasses add their item vectors)
    profile_state: ClassVar[tuple[str, ...]] = ("user_weights_", "has_text_", "item_template_")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user_weights_: sp.csr_matrix | None = None
        self.has_text_: np.ndarray | None = None
        self.item_template_: np.ndarray | None = None
        self.item_template: ItemTextTemplate = ItemTextTemplate("")

    # ---- what subclasses provide ---------------------------------------------------------
    @abstractmethod
    def _fit_item_space(self, texts: list[str]) -> None:
        """Learn the space (if it is learned) and set the vectors of all items."""

    @abstractmethod
    def _represent(self, texts: list[str]) -> Vectors:
        """Vectors of texts in the fitted space (zero rows for empty texts)."""

    @abstractmethod
    def _item_space(self) -> Vectors:
        """Current item vectors, one unit-length (or zero) row per item."""

    @abstractmethod
    def _set_item_space(self, vectors: Vectors) -> None: ...

    def _fit_users(self, train: Dataset) -> None:
        """Hook for user-side state (e.g. attribute text embeddings)."""

    def _user_vectors(self, users: np.ndarray | None) -> np.ndarray | None:
        return None

    @property
    def user_text_weight(self) -> float:
        return 0.0

    def user_text(self, user: int) -> str | None:
        return None

    # ---- training ------------------------------------------------------------------------
    def _fit(self, train: Dataset, valid: Dataset | None) -> None:
        if train.items is None:
            raise DataError(
                f"model '{self.name}' recommends from item text, but the dataset has no item "
                "table: load one with the interactions (titles, genres, descriptions...)"
            )
        cfg = self.config
        template = cfg.template
        self.item_template = (
            ItemTextTemplate(template) if template else default_item_template(train.items)
        )
        texts = self.item_template.render(train.items)
        self.has_text_ = np.array([bool(t) for t in texts], dtype=bool)
        if not self.has_text_.any():
            raise DataError(
                f"no item has text under the template {self.item_template.template!r} "
                f"(item columns: {', '.join(map(str, train.items.columns))}); set "
                "`template` to name the text columns, e.g. '{title}. {description}'"
            )
        self.item_template_ = np.array(self.item_template.template)
        self._fit_item_space(texts)
        self.user_weights_ = interaction_weights(
            train, half_life_days=cfg.half_life_days, value_weighting=cfg.value_weighting
        )
        self._fit_users(train)

    def _after_load(self) -> None:
        if self.item_template_ is not None:
            self.item_template = ItemTextTemplate(str(self.item_template_[()]))
        if self.has_text_ is not None:
            self.has_text_ = self.has_text_.astype(bool)

    # ---- scoring -------------------------------------------------------------------------
    def profile_of(self, weights: sp.csr_matrix, users: np.ndarray | None = None) -> Vectors:
        """Unit-length profiles for rows of item weights (users: their indices, for
        blending in their attribute text)."""
        return user_profiles(
            weights,
            self._item_space(),
            user_vectors=self._user_vectors(users),
            user_weight=self.user_text_weight,
        )

    def score_users(self, users: np.ndarray) -> np.ndarray:
        assert self.user_weights_ is not None
        users = np.asarray(users, dtype=np.int64)
        return self._scores(self.profile_of(self.user_weights_[users], users))

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        weights = sp.csr_matrix(histories, dtype=np.float32, copy=True)
        weights.data = weigh_values(weights.data, self.config.value_weighting)
        return self._scores(self.profile_of(weights))

    def _scores(self, profiles: Vectors) -> np.ndarray:
        items = self._item_space()
        raw = profiles @ items.T
        dense = sp.csr_matrix(raw).toarray() if sp.issparse(raw) else raw
        scores = np.asarray(dense, dtype=np.float32)
        assert self.has_text_ is not None
        scores[:, ~self.has_text_] = np.nan  # no text: nothing to score the item from
        if sp.issparse(profiles):
            empty = np.diff(sp.csr_matrix(profiles).indptr) == 0
        else:
            empty = ~np.any(profiles != 0, axis=1)
        scores[empty] = np.nan  # no history (and no attribute text): no profile
        return scores

    def item_similarity(self, items: np.ndarray, profile: Vectors) -> np.ndarray:
        """Cosine of the given items' vectors with one profile (a 1 x d row)."""
        sims = self._item_space()[items] @ profile.T
        sims = sims.toarray() if sp.issparse(sims) else np.asarray(sims)
        return sims.astype(np.float64).ravel()

    def profile_weights(
        self, user_id: Any = None, history: Any = None
    ) -> tuple[sp.csr_matrix, np.ndarray | None, str | None]:
        """(1 x n_items profile weights, the user's index for blending in their attribute
        text or None, that text) of a known user or of a history."""
        self._require_fitted()
        assert self.user_map is not None and self.item_map is not None
        assert self.user_weights_ is not None
        user = self.user_map.index_of(user_id) if user_id is not None else None
        if history is not None:
            row = self._history_row(user, self.item_map.lookup(history))
            row = sp.csr_matrix(row, dtype=np.float32, copy=True)
            row.data = weigh_values(row.data, self.config.value_weighting)
            return row, None, None
        if user is None:
            raise DataError("explaining a profile needs a user id or a history of item ids")
        return self.user_weights_[[user]], np.array([user]), self.user_text(user)

    # ---- new catalogue rows --------------------------------------------------------------
    def add_items(self, items: pd.DataFrame) -> AddedItems:
        """Encode new catalogue rows (item_id plus text/attribute columns) so they can be
        recommended at once; rows with known ids replace those items' text."""
        self._require_fitted()
        assert self.item_map is not None and self.has_text_ is not None
        frame, positions, known = upsert_items(self, items)
        texts = new_item_texts(self.item_template, self.items, frame, positions)
        self._grow(len(self.item_map))
        space = self._item_space()
        vectors = self._represent(texts)
        if sp.issparse(space):
            space = sp.lil_matrix(space)
            space[positions] = vectors
            self._set_item_space(sp.csr_matrix(space))
        else:
            space[positions] = vectors
        has_text = np.array([bool(t) for t in texts], dtype=bool)
        self.has_text_[positions] = has_text
        ids = frame["item_id"]
        return AddedItems(
            added=ids[~known].tolist(),
            updated=ids[known].tolist(),
            without_text=ids[~has_text].tolist(),
        )

    def _grow(self, n_items: int) -> None:
        """Widen every items axis to n_items (new items: no interactions, no text yet)."""
        assert self.history_ is not None and self.user_weights_ is not None
        assert self.has_text_ is not None
        extra = n_items - len(self.has_text_)
        if extra <= 0:
            return
        self.history_ = _widen(self.history_, n_items)
        self.user_weights_ = _widen(self.user_weights_, n_items)
        self.has_text_ = np.concatenate([self.has_text_, np.zeros(extra, dtype=bool)])
        space = self._item_space()
        if sp.issparse(space):
            self._set_item_space(sp.vstack([space, sp.csr_matrix((extra, space.shape[1]))]).tocsr())
        else:
            pad = np.zeros((extra, space.shape[1]), dtype=space.dtype)
            self._set_item_space(np.vstack([space, pad]))


def _widen(m: sp.csr_matrix, n_cols: int) -> sp.csr_matrix:
    return sp.csr_matrix((m.data, m.indices, m.indptr), shape=(m.shape[0], n_cols))
