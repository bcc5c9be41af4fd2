"""The Recommender contract every model follows.

A model is a frozen, typed config plus state learned only in `fit`. Models implement
`_fit` and `score_users` (and `score_histories` when they can fold in a new history);
ranking, excluding seen items, candidates and filters are shared code in this module.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, ValidationError

from lmrec.data.dataset import Dataset
from lmrec.data.idmap import IdMap
from lmrec.errors import ConfigError, NotFittedError, UnknownIdError, UnsupportedError
from lmrec.models.query import Query
from lmrec.models.ranking import drop_unrankable, mask_rows, top_k


class ModelConfig(BaseModel):
    """Base of every model config: frozen, no unknown keys, round-trips through JSON/TOML."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 42


def build_config(config_class: type[ModelConfig], values: dict[str, Any]) -> ModelConfig:
    """Validate values into a config, turning pydantic's errors into one clear line."""
    try:
        return config_class(**values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = ".".join(str(p) for p in err["loc"]) or "(config)"
            if err["type"] == "extra_forbidden":
                allowed = ", ".join(sorted(config_class.model_fields))
                problems.append(f"unknown key '{key}' (allowed: {allowed})")
            else:
                problems.append(f"'{key}': {err['msg']} (got {err.get('input')!r})")
        raise ConfigError(f"{config_class.__name__}: " + "; ".join(problems)) from None


@dataclass
class Recommendations:
    """Ranked items for one request, in the user's own ids."""

    item_ids: list[str]
    scores: list[float]

    def __len__(self) -> int:
        return len(self.item_ids)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"item_id": self.item_ids, "score": self.scores})


class Recommender(ABC):
    """Base class: subclasses set `name`, `config_class`, `state_attrs` and implement
    `_fit` and `score_users`."""

    name: ClassVar[str]
    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    #: attributes (NumPy arrays or SciPy sparse matrices) that make up the learned state
    state_attrs: ClassVar[tuple[str, ...]] = ()
    #: whether `score_histories` works (new users without refitting)
    supports_fold_in: ClassVar[bool] = False
    #: small grid (<= 12 combinations) of the most important hyper-parameters, searched on
    #: the validation split by model comparison; config field -> values to try
    tuning_grid: ClassVar[dict[str, list[Any]]] = {}
    #: sequence models read the user's whole known history at test time (train + valid),
    #: as RecBole's leave-one-out does; the evaluation pipeline honours this flag
    history_at_test_time: ClassVar[bool] = False

    def __init__(self, config: ModelConfig | dict[str, Any] | None = None, **overrides: Any):
        values = config.model_dump() if isinstance(config, ModelConfig) else dict(config or {})
        values.update(overrides)
        self.config = build_config(self.config_class, values)
        self.user_map: IdMap | None = None
        self.item_map: IdMap | None = None
        self.history_: sp.csr_matrix | None = None  # user x item training values
        self.items: pd.DataFrame | None = None

    # ---- training ------------------------------------------------------------------------
    def fit(self, train: Dataset, valid: Dataset | None = None) -> Self:
        """Learn from `train`; `valid` may be used for early stopping only."""
        self.user_map, self.item_map = train.user_map, train.item_map
        self.history_ = train.csr
        self.items = train.items
        try:
            self._fit(train, valid)
        except BaseException:
            self.history_ = None  # a failed fit must not leave the model looking fitted
            raise
        return self

    @abstractmethod
    def _fit(self, train: Dataset, valid: Dataset | None) -> None: ...

    def _after_load(self) -> None:
        """Hook: rebuild derived (unsaved) state after `load_model` restored state_attrs."""
        return None

    def _save_extra(self, path: Path) -> None:
        """Hook: write state that is not arrays (e.g. member models) into the artifact
        directory `path`; `_load_extra` reads it back before `_after_load`."""
        return None

    def _load_extra(self, path: Path) -> None:
        return None

    @property
    def is_fitted(self) -> bool:
        return self.history_ is not None

    def _require_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFittedError(f"model '{self.name}' is not fitted: call fit() or load()")

    @property
    def n_items(self) -> int:
        self._require_fitted()
        assert self.item_map is not None
        return len(self.item_map)

    @property
    def n_users(self) -> int:
        self._require_fitted()
        assert self.user_map is not None
        return len(self.user_map)

    # ---- scoring on internal indices -------------------------------------------------------
    @abstractmethod
    def score_users(self, users: np.ndarray) -> np.ndarray:
        """Scores (len(users), n_items) float32 for known user indices; NaN = cannot score."""

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        """Scores (n_rows, n_items) for ad-hoc histories (rows of a user x item matrix)."""
        raise UnsupportedError(
            f"model '{self.name}' cannot score a new history without refitting; "
            "use a model with fold-in (e.g. itemknn, ease, als, pop) or retrain"
        )

    def item_vectors(self) -> np.ndarray | None:
        """Item representation used for similar items (cosine), if the model has one."""
        return None

    # ---- public API in the user's own ids --------------------------------------------------
    def score(self, query: Query) -> np.ndarray:
        """Raw scores over all items for a query (NaN where the model cannot score)."""
        self._require_fitted()
        return self._score_query(query)[0]

    def recommend(self, query: Query | Any, k: int | None = None) -> Recommendations:
        """Top-k items for a Query (or a plain user id), excluding seen items by default."""
        self._require_fitted()
        if not isinstance(query, Query):
            query = Query(user_id=query, k=k or 10)
        elif k is not None:
            query = Query(**{**query.__dict__, "k": k})
        scores, seen = self._score_query(query)
        scores = scores.astype(np.float64, copy=True)
        if query.exclude_seen and seen.size:
            scores[seen] = -np.inf
        self._apply_item_constraints(scores, query)
        idx, top = drop_unrankable(*top_k(scores, query.k))
        assert self.item_map is not None
        return Recommendations(self.item_map.to_ids(idx).tolist(), top.astype(float).tolist())

    def recommend_users(
        self, users: np.ndarray, k: int, exclude: sp.csr_matrix | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Batch top-k for user indices; `exclude` rows (default: training history) are
        removed. Returns (indices, scores), -inf scores where fewer than k are rankable."""
        self._require_fitted()
        scores = self.score_users(users).astype(np.float32, copy=False)
        ex = self.history_ if exclude is None else exclude
        mask_rows(scores, ex[users])
        return top_k(scores, k)

    def similar_items(self, item_id: Any, k: int = 10) -> Recommendations:
        """Items most similar to one item (cosine over the model's item vectors)."""
        self._require_fitted()
        assert self.item_map is not None
        i = self.item_map.index_of(item_id)
        sims = self._similar_scores(i)
        sims[i] = -np.inf
        idx, top = drop_unrankable(*top_k(sims, k))
        return Recommendations(self.item_map.to_ids(idx).tolist(), top.astype(float).tolist())

    def _similar_scores(self, i: int) -> np.ndarray:
        vecs = self.item_vectors()
        if vecs is None:
            # Co-occurrence cosine from the training history works for any model.
            assert self.history_ is not None
            x = self.history_.tocsc().astype(np.float32)
            x.data = np.ones_like(x.data)
            co = np.asarray((x.T @ x[:, i]).todense()).ravel()
            norms = np.sqrt(np.asarray(x.sum(axis=0)).ravel())
            with np.errstate(divide="ignore", invalid="ignore"):
                sims = co / (norms * max(norms[i], 1e-12))
            return np.nan_to_num(sims, nan=-np.inf).astype(np.float64)
        norms = np.linalg.norm(vecs, axis=1)
        norms[norms == 0] = 1.0
        return (vecs @ vecs[i]) / (norms * norms[i])

    # ---- persistence ------------------------------------------------------------------------
    def save(self, path: Any, extra: dict[str, Any] | None = None) -> Any:
        """Write the fitted model to a directory (see lmrec.models.artifacts)."""
        from lmrec.models.artifacts import save_model

        return save_model(self, path, extra)

    # ---- helpers ----------------------------------------------------------------------------
    def _score_query(self, query: Query) -> tuple[np.ndarray, np.ndarray]:
        """(scores, indices of items to treat as seen) for a query."""
        assert self.user_map is not None and self.item_map is not None
        assert self.history_ is not None
        user = None
        if query.user_id is not None and query.user_id in self.user_map:
            user = self.user_map.index_of(query.user_id)
        if query.history:
            extra = self.item_map.lookup(query.history)
            row = self._history_row(user, extra)
            scores = self.score_histories(row)[0]
            return scores, row.indices
        if user is None:
            if query.user_id is None:
                raise UnknownIdError("a query needs a user_id or a history of item ids")
            raise UnknownIdError(
                f"unknown user id {query.user_id!r}: pass their history (item ids) "
                "to recommend for a new user"
            )
        scores = self.score_users(np.array([user]))[0]
        return scores, self.history_[user].indices

    def _history_row(self, user: int | None, extra: np.ndarray) -> sp.csr_matrix:
        assert self.history_ is not None
        n = self.history_.shape[1]
        added = sp.csr_matrix(
            (np.ones(len(extra), dtype=np.float32), (np.zeros(len(extra), dtype=int), extra)),
            shape=(1, n),
        )
        added.sum_duplicates()
        added.data = np.ones_like(added.data)  # an item seen twice in a history counts once
        if user is not None:
            base = self.history_[user]
            added = base.maximum(added).tocsr() if base.nnz else added
        return added

    def _apply_item_constraints(self, scores: np.ndarray, query: Query) -> None:
        assert self.item_map is not None
        if query.candidates is not None:
            allowed = np.zeros(len(scores), dtype=bool)
            allowed[self.item_map.lookup(query.candidates, missing="drop")] = True
            scores[~allowed] = -np.inf
        if query.exclude:
            scores[self.item_map.lookup(query.exclude, missing="drop")] = -np.inf
        if query.filters:
            scores[~filter_mask(self.items, query.filters, len(scores))] = -np.inf


def filter_mask(
    items: pd.DataFrame | None, filters: dict[str, Sequence[Any]], n: int
) -> np.ndarray:
    """Items whose attribute matches one of the allowed values.

    A cell holding several values separated by '|' (e.g. genres) matches when any does.
    """
    if items is None:
        raise UnknownIdError("this model has no item table, so it cannot filter by attribute")
    mask = np.ones(n, dtype=bool)
    for column, allowed in filters.items():
        if column not in items.columns:
            raise UnknownIdError(
                f"unknown item attribute '{column}' in filters "
                f"(known: {', '.join(map(str, items.columns))})"
            )
        wanted = {str(v).lower() for v in allowed}
        parts = items[column].astype(str).str.lower().str.split("|").explode()
        hit = parts.isin(wanted)
        mask &= hit.groupby(level=0).any().reindex(range(n), fill_value=False).to_numpy()
    return mask
