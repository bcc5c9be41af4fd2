"""The Recommender contract every model follows.

A model is a frozen, typed config plus state learned only in `fit`. The config class is
read from the generic parameter (`class EASE(ItemItemRecommender[EASEConfig])`), so no
model repeats it. Models implement `_fit` and `score_users`; optional abilities are the
protocols of `lmrec.models.capabilities`. Ranking, excluding seen items, candidates and
filters are shared code (`lmrec.core.ranking`, `item_constraints` below).

The protected API other lmrec modules call (and a model may override):
  _fit(train, valid)          learn; run options are in `self.options`
  _after_load()               rebuild derived (unsaved) state after loading
  _save_extra(path) / _load_extra(path)   state that is not arrays (e.g. member models)
  _score_query(query)         (scores over all items, indices to treat as seen)
  _history_row(user, items)   a 1 x n_items row: a known user's history plus new items
  _forget_rows(users)         drop what the model holds of these users (see forgetting.py)
"""

from __future__ import annotations

import typing
from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Generic, Literal, Self, TypeVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict

from lmrec.core.config import build_config
from lmrec.core.filters import ItemFilter
from lmrec.core.options import FitOptions, split_run_settings
from lmrec.core.query import Query
from lmrec.core.ranking import NO_USER, mask_rows, rank, tie_priority, top_k
from lmrec.core.search_space import SearchSpace
from lmrec.data.dataset import Dataset
from lmrec.data.idmap import IdMap
from lmrec.errors import NotFittedError, UnknownIdError, UnsupportedError
from lmrec.models.batch import recommend_many
from lmrec.models.capabilities import (
    FoldsIn,
    HasItemVectors,
    ItemSimilarity,
    ScoresSequences,
)


class ModelConfig(BaseModel):
    """Base of every model config: frozen, no unknown keys, round-trips through JSON/TOML."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    seed: int = 42


C = TypeVar("C", bound=ModelConfig)


@dataclass
class Recommendations:
    """Ranked items for one request, in the user's own ids."""

    item_ids: list[str]
    scores: list[float]

    def __len__(self) -> int:
        return len(self.item_ids)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({"item_id": self.item_ids, "score": self.scores})


class Recommender(ABC, Generic[C]):
    """Base class: subclasses set `name` and `state_attrs`, name their config class as the
    generic parameter, and implement `_fit` and `score_users`."""

    name: ClassVar[str]
    #: read from the generic parameter (Recommender[XConfig]); see __init_subclass__
    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    #: attributes (NumPy arrays or SciPy sparse matrices) that make up the learned state
    state_attrs: ClassVar[tuple[str, ...]] = ()
    #: small grid (<= 12 combinations) of the most important hyper-parameters, searched on
    #: the validation split by model comparison; config field -> values to try
    tuning_grid: ClassVar[dict[str, list[Any]]] = {}
    #: the deeper space `lmrec tune` searches (lmrec.core.search_space)
    search_space: ClassVar[SearchSpace] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for base in getattr(cls, "__orig_bases__", ()):
            origin = typing.get_origin(base)
            args = typing.get_args(base)
            if (
                isinstance(origin, type)
                and issubclass(origin, Recommender)
                and args
                and isinstance(args[0], type)
                and issubclass(args[0], ModelConfig)
            ):
                cls.config_class = args[0]

    def __init__(self, config: ModelConfig | dict[str, Any] | None = None, **overrides: Any):
        values = config.model_dump() if isinstance(config, ModelConfig) else dict(config or {})
        values.update(overrides)
        # Run settings (device, threads, ...) given with the config are taken as options
        # for this instance and never become part of the config.
        hyper, run = split_run_settings(values)
        self.config: C = build_config(self.config_class, hyper)  # type: ignore[assignment]
        self.options = FitOptions(**run)
        self.user_map: IdMap | None = None
        self.item_map: IdMap | None = None
        self.history_: sp.csr_matrix | None = None  # user x item training values
        self.items: pd.DataFrame | None = None
        #: content hash of the training data (saved; checks a later evaluation's data)
        self.train_fingerprint_: str | None = None
        #: what a private training spent (lmrec.training.private); None: not private
        self.privacy_: dict[str, Any] | None = None
        self._item_filter: ItemFilter | None = None

    # ---- training ------------------------------------------------------------------------
    def fit(
        self, train: Dataset, valid: Dataset | None = None, options: FitOptions | None = None
    ) -> Self:
        """Learn from `train`; `valid` may be used for early stopping only. `options`
        (device, threads, progress, checkpoints) say how to run, not what to learn."""
        if options is not None:
            self.options = options
        self.user_map, self.item_map = train.user_map, train.item_map
        self.history_ = train.csr
        self.items = train.items
        self.train_fingerprint_ = train.fingerprint()
        try:
            self._fit(train, valid)
        except BaseException:
            self.history_ = None  # a failed fit must not leave the model looking fitted
            raise
        return self

    @abstractmethod
    def _fit(self, train: Dataset, valid: Dataset | None) -> None: ...

    def _forget_rows(self, users: np.ndarray) -> None:
        """Hook: remove what this model holds of users (dense indices) by assigning new
        arrays, never editing shared ones (`lmrec.models.forgetting` works on a shallow
        copy). Here: their training rows, and the rows of every per-user array (state
        named `user_*`); then derived state is rebuilt. Item parameters keep what they
        learned from these users until the model is retrained without them."""
        assert self.history_ is not None
        keep = np.ones(self.history_.shape[0], dtype=np.float32)
        keep[users] = 0.0
        history = sp.diags(keep).dot(self.history_).tocsr()
        history.eliminate_zeros()
        self.history_ = history.astype(self.history_.dtype)
        for attr in self.state_attrs:
            value = getattr(self, attr, None)
            if not (attr.startswith("user_") and isinstance(value, np.ndarray)):
                continue
            if value.ndim >= 1 and len(value) == self.history_.shape[0]:
                cleared = value.copy()
                cleared[users] = 0
                setattr(self, attr, cleared)
        self._after_load()

    def _after_load(self) -> None:
        """Hook: rebuild derived (unsaved) state after `load_model` restored state_attrs."""
        return None

    def _save_extra(self, path: Path) -> None:
        """Hook: write state that is not arrays (e.g. member models) into the artifact
        directory `path`; `_load_extra` reads it back before `_after_load`."""
        return None

    def _load_extra(self, path: Path) -> None:
        return None

    def training_history(self) -> list[dict[str, float]]:
        """One record per training epoch of the last fit (epoch from 1, loss, the
        validation metric as valid_ndcg@10 when there was validation data, seconds); empty
        for models fit in closed form. For reports and experiment tracking."""
        return []

    def declined_capabilities(self) -> frozenset[type]:
        """Capabilities this instance lacks although its class has the methods (see
        lmrec.models.capabilities); most models decline none."""
        return frozenset()

    def _cannot_fold_in(self) -> str:
        """Why this model cannot score a new history (the error a user sees)."""
        return (
            f"model '{self.name}' cannot score a new history without refitting; "
            "use a model with fold-in (e.g. itemknn, ease, als, pop) or retrain"
        )

    @property
    def history_at_test_time(self) -> bool:
        """Whether the model reads the user's whole known history (train + valid) when
        tested, as sequence models do under RecBole's leave-one-out."""
        return isinstance(self, ScoresSequences)

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
        excluded, allowed = item_constraints(self, query, seen)
        user = self.tie_row(query)
        idx, top = rank(scores, query.k, excluded=excluded, allowed=allowed, user=user)
        assert self.item_map is not None
        return Recommendations(self.item_map.to_ids(idx).tolist(), top.astype(float).tolist())

    def recommend_users(
        self, users: np.ndarray, k: int, exclude: sp.csr_matrix | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Batch top-k for user indices; `exclude` rows (default: training history) are
        removed. Returns (indices, scores), -inf scores where fewer than k are rankable."""
        self._require_fitted()
        scores = np.array(self.score_users(users), dtype=np.float32)
        ex = self.history_ if exclude is None else exclude
        assert ex is not None
        mask_rows(scores, ex[users])
        return top_k(scores, k, priority=tie_priority(users, self.n_items))

    def recommend_many(
        self,
        user_ids: Iterable[Any],
        k: int = 10,
        *,
        exclude_seen: bool = True,
        unknown: Literal["error", "skip"] = "error",
        fields: Sequence[str] | None = None,
    ) -> pd.DataFrame:
        """Top-k for many users by their own ids: a frame user_id, rank, item_id, score
        (plus the item table's `fields`, e.g. ["title"]); see lmrec.models.batch."""
        self._require_fitted()
        return recommend_many(
            self, user_ids, k, exclude_seen=exclude_seen, unknown=unknown, fields=fields
        )

    def similar_items(self, item_id: Any, k: int = 10) -> Recommendations:
        """Items most similar to one item: the model's own item-to-item weights, else
        cosine over its item vectors, else co-occurrence in the training history."""
        self._require_fitted()
        assert self.item_map is not None
        i = self.item_map.index_of(item_id)
        idx, top = rank(self._similar_scores(i), k, excluded=np.array([i]))
        return Recommendations(self.item_map.to_ids(idx).tolist(), top.astype(float).tolist())

    def _similar_scores(self, i: int) -> np.ndarray:
        if isinstance(self, ItemSimilarity):
            return self.similar_scores(i)
        if isinstance(self, HasItemVectors):
            vecs = self.item_vectors()
            norms = np.linalg.norm(vecs, axis=1)
            norms[norms == 0] = 1.0
            return np.asarray((vecs @ vecs[i]) / (norms * norms[i]))
        assert self.history_ is not None
        x = self.history_.tocsc().astype(np.float32)
        x.data = np.ones_like(x.data)
        co = np.asarray((x.T @ x[:, i]).todense()).ravel()
        norms = np.sqrt(np.asarray(x.sum(axis=0)).ravel())
        with np.errstate(divide="ignore", invalid="ignore"):
            sims = co / (norms * max(norms[i], 1e-12))
        return np.nan_to_num(sims, nan=-np.inf).astype(np.float64)

    # ---- persistence ------------------------------------------------------------------------
    def save(self, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """Write the fitted model to a directory (see lmrec.models.artifact_format)."""
        from lmrec.models.artifact_format import write_artifact

        return write_artifact(self, Path(path), extra)

    # ---- shared steps (protected API) ------------------------------------------------------
    def item_filter(self) -> ItemFilter:
        """The attribute filter over the current item table (rebuilt when it changes)."""
        if self._item_filter is None or self._item_filter.items is not self.items:
            self._item_filter = ItemFilter(self.items, self.n_items)
        return self._item_filter

    def tie_row(self, query: Query) -> int:
        """The row of the tie order a query's list uses: the known user's index, else
        NO_USER (see lmrec.core.ranking)."""
        assert self.user_map is not None
        if query.user_id is not None and query.user_id in self.user_map:
            return self.user_map.index_of(query.user_id)
        return NO_USER

    def _score_query(self, query: Query) -> tuple[np.ndarray, np.ndarray]:
        """(scores, indices of items to treat as seen) for a query."""
        assert self.user_map is not None and self.item_map is not None
        assert self.history_ is not None
        user = None
        if query.user_id is not None and query.user_id in self.user_map:
            user = self.user_map.index_of(query.user_id)
        if query.history:
            extra = self.item_map.lookup(query.history)
            if not isinstance(self, FoldsIn):
                raise UnsupportedError(self._cannot_fold_in())
            row = self._history_row(user, extra)
            return self.score_histories(row)[0], row.indices
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


def item_constraints(
    model: Recommender[Any], query: Query, seen: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray | None]:
    """What a query keeps out of its list, as (excluded item indices, allowed mask or
    None): the user's `seen` items (unless the query keeps them), the query's exclusions,
    and candidates and attribute filters as a mask. One implementation for the model's
    own ranking and for the service's item index, so both give the same list."""
    assert model.item_map is not None
    parts = []
    if query.exclude_seen and seen is not None and len(seen):
        parts.append(np.asarray(seen, dtype=np.int64))
    if query.exclude:
        parts.append(model.item_map.lookup(query.exclude, missing="drop"))
    excluded = np.concatenate(parts) if parts else np.empty(0, dtype=np.int64)
    allowed = None
    if query.candidates is not None:
        allowed = np.zeros(model.n_items, dtype=bool)
        allowed[model.item_map.lookup(query.candidates, missing="drop")] = True
    if query.filters:
        matching = model.item_filter().mask(query.filters)
        allowed = matching if allowed is None else allowed & matching
    return excluded, allowed
