"""Fusion: one ranking from several fitted models.

Two ways to combine, both per user:
- score: each member's scores are normalised over the items the user has not seen
  (z-score or min-max) and summed with weights;
- rrf: reciprocal rank fusion (Cormack et al., SIGIR 2009), sum of w / (rrf_k + rank).

Members are fitted on the same training data. When validation data is given, the weights
(a grid over the weight simplex) and, with method="auto", the way of combining are chosen
on validation NDCG@10 with lmrec.evaluation; otherwise the configured (or equal) weights
are used. Each member is saved in its own subdirectory of the fusion's artifact.
"""

from __future__ import annotations

import copy
import itertools
import warnings
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import Field, field_validator

from lmrec.core.validation import ndcg_at_k
from lmrec.data.dataset import Dataset
from lmrec.errors import ArtifactError, ConfigError
from lmrec.models.base import ModelConfig, Recommender
from lmrec.models.capabilities import (
    AddedItems,
    FoldsIn,
    HasItemVectors,
    SupportsAddItems,
    TextSearchable,
)

#: working memory for the members' scores of the validation users while choosing weights
_TUNING_BYTES = 512 << 20
_MEMBERS_DIR = "members"


class FusionConfig(ModelConfig):
    #: registry names of the models to combine
    members: list[str] = Field(default_factory=lambda: ["ease", "hybrid"], min_length=1)
    #: config of each member by name, e.g. {"ease": {"reg": 300}}
    member_configs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: "score": weighted sum of normalised scores; "rrf": reciprocal rank fusion;
    #: "auto": whichever does better on validation (score without validation data)
    method: Literal["auto", "score", "rrf"] = "auto"
    normalize: Literal["zscore", "minmax"] = "zscore"
    #: fixed member weights (None: chosen on validation, else equal)
    weights: list[float] | None = None
    #: spacing of the grid over the weight simplex searched on validation
    weight_step: float = Field(0.1, gt=0, le=0.5)
    rrf_k: float = Field(60.0, gt=0)

    @field_validator("members")
    @classmethod
    def _distinct(cls, members: list[str]) -> list[str]:
        if len(set(members)) != len(members):
            raise ValueError("each member model may appear once")
        return members


class FusionRecommender(Recommender[FusionConfig]):
    """Weighted score fusion or reciprocal rank fusion of fitted member models."""

    name = "fusion"
    state_attrs = ("weights_", "method_")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cfg = self.config
        unknown = set(cfg.member_configs) - set(cfg.members)
        if unknown:
            raise ConfigError(
                f"fusion: member_configs names {sorted(unknown)}, which are not members "
                f"({', '.join(cfg.members)})"
            )
        if cfg.weights is not None and len(cfg.weights) != len(cfg.members):
            raise ConfigError(f"fusion: {len(cfg.weights)} weights for {len(cfg.members)} members")
        self.members_: list[Recommender[Any]] = []
        self.weights_: np.ndarray | None = None
        self.method_: np.ndarray | None = None  # "score" or "rrf", 0-d
        #: validation NDCG@10 of every (method, weights) tried (not saved)
        self.trials_: list[dict[str, Any]] = []

    # ---- training ------------------------------------------------------------------------
    def _fit(self, train: Dataset, valid: Dataset | None) -> None:
        from lmrec.models.registry import create_model

        cfg = self.config
        self.members_ = []
        for name in cfg.members:
            member = create_model(name, cfg.member_configs.get(name, {}))
            self.members_.append(member.fit(train, valid, member.options.under(self.options)))
        methods = ["score", "rrf"] if cfg.method == "auto" else [cfg.method]
        n = len(self.members_)
        equal = np.full(n, 1.0 / n)
        fixed = None if cfg.weights is None else _as_weights(cfg.weights)
        self.trials_ = []
        if valid is None or valid.n_interactions == 0 or (fixed is not None and len(methods) == 1):
            self._set(
                "score" if cfg.method == "auto" else cfg.method,
                fixed if fixed is not None else equal,
            )
            return
        grid = [fixed] if fixed is not None else simplex_grid(n, cfg.weight_step)
        best = (-np.inf, methods[0], grid[0])
        for method in methods:
            for weights, score in self._validate(train, valid, method, grid):
                self.trials_.append(
                    {"method": method, "weights": weights.tolist(), "ndcg@10": score}
                )
                if score > best[0]:
                    best = (score, method, weights)
        self._set(best[1], best[2])

    def _set(self, method: str, weights: np.ndarray) -> None:
        self.method_ = np.array(method)
        self.weights_ = np.asarray(weights, dtype=np.float64)

    def _validate(
        self, train: Dataset, valid: Dataset, method: str, grid: list[np.ndarray]
    ) -> list[tuple[np.ndarray, float]]:
        """Validation NDCG@10 of each weight vector (members' scores computed once)."""
        users = np.flatnonzero(np.diff(valid.binary_csr.indptr) > 0)
        per_user = 4 * self.n_items * len(self.members_)
        cap = max(1, _TUNING_BYTES // per_user)
        if len(users) > cap:  # a seeded sample keeps the members' scores in memory
            rng = np.random.default_rng(self.config.seed)
            users = np.sort(rng.choice(users, cap, replace=False))
        assert self.history_ is not None
        parts = self._member_parts(users, self.history_[users], method, None)
        row_of = np.full(self.n_users, -1, dtype=np.int64)
        row_of[users] = np.arange(len(users))
        has_train = train.item_counts() > 0
        # Held-out items that are all new (a cold-items split): rank among new items, as
        # that protocol's evaluation does.
        cold = not has_train[valid.items_idx].any()
        out = []
        for weights in grid:
            table = _combine(parts, weights)

            def score(batch: np.ndarray, table: np.ndarray = table) -> np.ndarray:
                s = table[row_of[batch]].copy()
                if cold:
                    s[:, has_train] = -np.inf
                return s

            ndcg = ndcg_at_k(score, users, train.binary_csr, valid.binary_csr, k=10)
            out.append((weights, ndcg))
        return out

    def declined_capabilities(self) -> frozenset[type]:
        """What this combination of members cannot do: fold in a new history unless
        every member can; search or take new items unless some member reads text."""
        declined: set[type] = set()
        if not all(isinstance(m, FoldsIn) for m in self.members_):
            declined.add(FoldsIn)
        if self._text_member() is None:
            declined.add(TextSearchable)
        if not self._item_takers():
            declined.add(SupportsAddItems)
        if not any(isinstance(m, HasItemVectors) for m in self.members_):
            declined.add(HasItemVectors)
        return frozenset(declined)

    def _cannot_fold_in(self) -> str:
        lacking = [m.name for m in self.members_ if not isinstance(m, FoldsIn)]
        return (
            f"fusion member(s) {', '.join(lacking)} cannot score a new history without "
            "refitting; fuse models with fold-in (e.g. ease, itemknn, hybrid, content)"
        )

    @property
    def history_at_test_time(self) -> bool:
        return any(m.history_at_test_time for m in self.members_)

    # ---- scoring -------------------------------------------------------------------------
    def score_users(self, users: np.ndarray) -> np.ndarray:
        self._require_fitted()
        users = np.asarray(users, dtype=np.int64)
        assert self.history_ is not None
        return self._fused(users, self.history_[users], None)

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        """Fused scores of new histories (a capability only when every member folds in;
        see declined_capabilities)."""
        self._require_fitted()
        rows = sp.csr_matrix(histories)
        return self._fused(None, rows, rows)

    def _fused(
        self, users: np.ndarray | None, seen: sp.csr_matrix, histories: sp.csr_matrix | None
    ) -> np.ndarray:
        assert self.weights_ is not None and self.method_ is not None
        parts = self._member_parts(users, seen, str(self.method_[()]), histories)
        return _combine(parts, self.weights_)

    def _member_parts(
        self,
        users: np.ndarray | None,
        seen: sp.csr_matrix,
        method: str,
        histories: sp.csr_matrix | None,
    ) -> list[np.ndarray]:
        """Each member's scores, normalised (score) or as reciprocal ranks (rrf)."""
        parts = []
        n_items = self.n_items
        for member in self.members_:
            # A member that cannot read text does not know items added since it was fit:
            # it scores the items it knows, the others are NaN (the row's lowest value).
            width = member.n_items
            if histories is None:
                assert users is not None
                raw = np.asarray(member.score_users(users), dtype=np.float32)
            else:
                assert isinstance(member, FoldsIn)
                rows = histories if width == n_items else histories[:, :width]
                raw = np.asarray(member.score_histories(rows), dtype=np.float32)
            if width < n_items:
                raw = np.hstack([raw, np.full((len(raw), n_items - width), np.nan, np.float32)])
            if method == "rrf":
                parts.append(reciprocal_ranks(raw, seen, self.config.rrf_k))
            else:
                parts.append(normalise(raw, seen, self.config.normalize))
        return parts

    def item_vectors(self) -> np.ndarray:
        """The first member's item vectors (declined when no member has any)."""
        for member in self.members_:
            if isinstance(member, HasItemVectors):
                return member.item_vectors()
        raise AssertionError("declined: no member has item vectors")

    # ---- text search and new items: through the members that can -------------------------
    def _text_member(self) -> TextSearchable | None:
        for member in self.members_:
            if isinstance(member, TextSearchable):
                return member
        return None

    def text_vectors(self) -> np.ndarray:
        member = self._text_member()
        assert member is not None, "declined: no member embeds text"
        return member.text_vectors()

    def encode_query(self, texts: list[str]) -> np.ndarray:
        member = self._text_member()
        assert member is not None, "declined: no member embeds text"
        return member.encode_query(texts)

    def _item_takers(self) -> list[int]:
        return [i for i, m in enumerate(self.members_) if isinstance(m, SupportsAddItems)]

    def add_items(self, items: pd.DataFrame) -> AddedItems:
        """New items go to the members that read text (on copies, so a served model is
        never changed under a request); the other members leave them unscored."""
        takers = self._item_takers()
        members = list(self.members_)
        reports = []
        for i in takers:
            member = _detached(members[i])
            assert isinstance(member, SupportsAddItems)
            reports.append(member.add_items(items))
            members[i] = member
        first = members[takers[0]]
        self.members_ = members
        self.item_map, self.items, self.history_ = first.item_map, first.items, first.history_
        unscored = set.intersection(*(set(r.without_text) for r in reports))
        return AddedItems(
            added=reports[0].added,
            updated=reports[0].updated,
            without_text=[i for i in reports[0].without_text if i in unscored],
        )

    # ---- persistence ---------------------------------------------------------------------
    def _save_extra(self, path: Path) -> None:
        for i, member in enumerate(self.members_):
            member.save(path / _MEMBERS_DIR / f"{i}-{member.name}")

    def _load_extra(self, path: Path) -> None:
        from lmrec.models.artifacts import load_model

        members = []
        for i, name in enumerate(self.config.members):
            sub = path / _MEMBERS_DIR / f"{i}-{name}"
            if not sub.exists():
                raise ArtifactError(f"{path}: fusion member '{name}' is missing ({sub})")
            members.append(load_model(sub, self.options))
        self.members_ = members


def _detached(model: Recommender[Any]) -> Recommender[Any]:
    """A shallow copy whose NumPy arrays are its own (adding items may edit them)."""
    clone = copy.copy(model)
    for attr, value in vars(model).items():
        if isinstance(value, np.ndarray):
            setattr(clone, attr, value.copy())
    return clone


def simplex_grid(n: int, step: float) -> list[np.ndarray]:
    """Every weight vector of n non-negative multiples of `step` summing to 1 (a member
    may get weight 0: validation may say that fusing does not help)."""
    units = round(1 / step)
    points = []
    # stars and bars: n - 1 bars among units + n - 1 places
    for bars in itertools.combinations(range(units + n - 1), n - 1):
        edges = np.array([-1, *bars, units + n - 1])
        points.append((np.diff(edges) - 1) / units)
    return points


def _as_weights(values: list[float]) -> np.ndarray:
    w = np.asarray(values, dtype=np.float64)
    if (w < 0).any() or w.sum() <= 0:
        raise ConfigError(f"fusion weights must be non-negative with a positive sum: {values}")
    return w / w.sum()


def normalise(scores: np.ndarray, seen: sp.csr_matrix, how: str) -> np.ndarray:
    """Per-row z-score or min-max of scores, with the statistics taken over the items the
    user has not seen (seen items score high in many models and would squash the rest).
    Items a member cannot score (NaN) get the row's lowest value."""
    masked = scores.astype(np.float64, copy=True)
    coo = seen.tocoo()
    masked[coo.row, coo.col] = np.nan
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # rows with nothing to score
        if how == "minmax":
            low = np.nanmin(masked, axis=1, keepdims=True)
            span = np.nanmax(masked, axis=1, keepdims=True) - low
            out = (scores - low) / np.where(span > 0, span, 1.0)
        else:
            mean = np.nanmean(masked, axis=1, keepdims=True)
            std = np.nanstd(masked, axis=1, keepdims=True)
            out = (scores - mean) / np.where(std > 0, std, 1.0)
    floor = np.nanmin(np.where(np.isnan(out), np.inf, out), axis=1, keepdims=True)
    floor = np.where(np.isfinite(floor), floor, 0.0)
    return np.where(np.isnan(out), floor, out).astype(np.float32)


def reciprocal_ranks(scores: np.ndarray, seen: sp.csr_matrix, k: float) -> np.ndarray:
    """1 / (k + rank) per item, rank 1 = the member's best unseen item; seen and
    unscorable items rank last."""
    s = np.where(np.isnan(scores), -np.inf, scores).astype(np.float64)
    coo = seen.tocoo()
    s[coo.row, coo.col] = -np.inf
    order = np.argsort(-s, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, s.shape[1] + 1)[None, :], axis=1)
    return (1.0 / (k + ranks)).astype(np.float32)


def _combine(parts: list[np.ndarray], weights: np.ndarray) -> np.ndarray:
    out = np.zeros_like(parts[0], dtype=np.float32)
    for w, part in zip(weights, parts, strict=True):
        if w:
            out += np.float32(w) * part
    return out
