"""Checks every Recommender must pass, written once (like scikit-learn's check_estimator).

A model's test file is a class that names the model and inherits every check:

    from lmrec.testing import RecommenderContract

    class TestEASE(RecommenderContract):
        model_name = "ease"
        model_config: ClassVar[dict[str, Any]] = {"reg": 1.0}

Class attributes tune the checks for what a model honestly can do (see below; annotate
dict-valued ones with ClassVar, as ruff asks); extra tests in the subclass cover what is
special about the model. The model is fitted once per class on `lmrec.testing.toy.blocks`.
"""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from lmrec.core.query import Query
from lmrec.errors import ConfigError, NotFittedError, UnknownIdError, UnsupportedError
from lmrec.evaluation.tuning import MAX_TRIALS
from lmrec.models.base import Recommender
from lmrec.models.capabilities import FoldsIn, HasItemVectors, InnerProduct
from lmrec.models.registry import create_model, get_model_class
from lmrec.testing import toy
from lmrec.testing.toy import ToyData

K = 5


class RecommenderContract:
    """Base class of a model's contract tests (pytest collects the `Test*` subclasses)."""

    #: registry name of the model under test
    model_name: ClassVar[str]
    #: config used for every check (keep it small and fast)
    model_config: ClassVar[dict[str, Any]] = {}
    #: keyword arguments of lmrec.testing.toy.blocks for the data the model is fitted on
    toy_kwargs: ClassVar[dict[str, Any]] = {}
    #: False for models with no notion of quality (random, popularity)
    check_quality: ClassVar[bool] = True
    #: True: every user's held-out item must be their first recommendation;
    #: False: it must be in the top `quality_k` for at least `quality_min_hit_rate` of users
    quality_exact: ClassVar[bool] = True
    quality_k: ClassVar[int] = 3
    quality_min_hit_rate: ClassVar[float] = 0.8
    #: True when another seed is expected to change the scores
    stochastic: ClassVar[bool] = False
    #: True when scoring a known user's training history as a new history must give that
    #: user's scores (the fold-in is the same computation)
    fold_in_matches_known: ClassVar[bool] = False
    #: True when forgetting a user changes other users' scores (they were neighbours)
    forgetting_changes_others: ClassVar[bool] = False
    #: most grid points a tuning grid may have (model comparison tries no more than this)
    max_grid_points: ClassVar[int] = MAX_TRIALS

    # ---- fixtures ---------------------------------------------------------------------------
    @classmethod
    def make(cls, **overrides: Any) -> Recommender:
        return create_model(cls.model_name, {**cls.model_config, **overrides})

    @pytest.fixture(scope="class")
    @classmethod
    def toy_data(cls) -> ToyData:
        return toy.blocks(**cls.toy_kwargs)

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls, toy_data: ToyData) -> Recommender:
        return cls.make().fit(toy_data.train)

    # ---- fit and shapes ---------------------------------------------------------------------
    def test_fit_returns_self(self, toy_data: ToyData) -> None:
        model = self.make()
        assert not model.is_fitted
        assert model.fit(toy_data.train) is model
        assert model.is_fitted
        assert model.n_items == toy_data.train.n_items
        assert model.n_users == toy_data.train.n_users

    def test_score_users_shape_and_dtype(self, fitted: Recommender) -> None:
        users = np.arange(fitted.n_users)
        scores = fitted.score_users(users)
        assert scores.shape == (fitted.n_users, fitted.n_items)
        assert scores.dtype == np.float32
        assert not np.isinf(scores).any(), "use NaN (not inf) for items a model cannot score"

    def test_score_query_shape(self, fitted: Recommender, toy_data: ToyData) -> None:
        user = next(iter(toy_data.held_out))
        scores = fitted.score(Query(user_id=user))
        assert scores.shape == (fitted.n_items,)

    def test_item_vectors_shape(self, fitted: Recommender) -> None:
        if isinstance(fitted, HasItemVectors):
            vecs = fitted.item_vectors()
            assert vecs.ndim == 2 and vecs.shape[0] == fitted.n_items
            assert np.isfinite(vecs).all()

    def test_inner_product_matches_scores(self, fitted: Recommender) -> None:
        """A model that declares InnerProduct is served from an item index: its vectors
        must give exactly its scores."""
        if not isinstance(fitted, InnerProduct):
            return
        users = np.arange(fitted.n_users)
        products = fitted.user_vectors(users) @ fitted.item_factors().T
        scores = fitted.score_users(users)
        finite = np.isfinite(scores)
        np.testing.assert_allclose(products[finite], scores[finite], rtol=1e-4, atol=1e-5)

    # ---- recommend --------------------------------------------------------------------------
    def test_recommend_known_user(self, fitted: Recommender, toy_data: ToyData) -> None:
        for user in list(toy_data.held_out)[:4]:
            recs = fitted.recommend(user, k=K)
            assert len(recs) == K
            assert len(set(recs.item_ids)) == K
            assert all(i in fitted.item_map for i in recs.item_ids)  # type: ignore[operator]
            assert all(isinstance(s, float) and math.isfinite(s) for s in recs.scores)
            assert recs.scores == sorted(recs.scores, reverse=True)
            assert list(recs.to_frame().columns) == ["item_id", "score"]

    def test_unknown_user_raises(self, fitted: Recommender) -> None:
        with pytest.raises(UnknownIdError, match="no-such-user"):
            fitted.recommend("no-such-user")
        with pytest.raises(UnknownIdError):
            fitted.recommend(Query())

    def test_excludes_seen_items(self, fitted: Recommender, toy_data: ToyData) -> None:
        seen = _seen_by_user(toy_data)
        for user in list(toy_data.held_out)[::5]:
            recs = fitted.recommend(Query(user_id=user, k=fitted.n_items))
            assert not set(recs.item_ids) & seen[user]
            # every unseen item the model can score (not NaN) is returned
            scores = fitted.score(Query(user_id=user))
            seen_idx = fitted.item_map.lookup(seen[user])  # type: ignore[union-attr]
            scorable = np.isfinite(scores)
            scorable[seen_idx] = False
            assert len(recs) == int(scorable.sum())

    def test_keeps_seen_items_when_asked(self, fitted: Recommender, toy_data: ToyData) -> None:
        user = next(iter(toy_data.held_out))
        recs = fitted.recommend(Query(user_id=user, k=fitted.n_items, exclude_seen=False))
        scorable = np.isfinite(fitted.score(Query(user_id=user)))
        assert len(recs) == int(scorable.sum())
        assert set(recs.item_ids) & _seen_by_user(toy_data)[user]

    def test_candidates_honoured(self, fitted: Recommender, toy_data: ToyData) -> None:
        user = next(iter(toy_data.held_out))
        seen = _seen_by_user(toy_data)[user]
        unseen = [i for i in fitted.item_map.ids if i not in seen]  # type: ignore[union-attr]
        candidates = unseen[::2][:6]
        recs = fitted.recommend(Query(user_id=user, candidates=candidates, k=4))
        assert len(recs) == 4 and set(recs.item_ids) <= set(candidates)
        recs = fitted.recommend(Query(user_id=user, candidates=candidates[:2], k=4))
        assert sorted(recs.item_ids) == sorted(candidates[:2])

    def test_exclude_honoured(self, fitted: Recommender, toy_data: ToyData) -> None:
        user = next(iter(toy_data.held_out))
        first = fitted.recommend(user, k=3).item_ids
        recs = fitted.recommend(Query(user_id=user, exclude=first, k=K))
        available = len(fitted.recommend(Query(user_id=user, k=fitted.n_items))) - len(first)
        assert len(recs) == min(K, available) and not set(recs.item_ids) & set(first)

    def test_filters_honoured(self, fitted: Recommender, toy_data: ToyData) -> None:
        user = next(iter(toy_data.held_out))
        recs = fitted.recommend(Query(user_id=user, filters={"genres": ["Horror"]}, k=3))
        assert len(recs) == 3
        items = fitted.items.set_index("item_id")  # type: ignore[union-attr]
        assert all("Horror" in items.loc[i, "genres"] for i in recs.item_ids)
        with pytest.raises(UnknownIdError, match="no_such_column"):
            fitted.recommend(Query(user_id=user, filters={"no_such_column": ["x"]}))

    def test_batch_equals_single(self, fitted: Recommender) -> None:
        users = np.arange(fitted.n_users)
        batch = fitted.score_users(users)
        for u in users[:: max(1, len(users) // 6)]:
            single = fitted.score_users(np.array([u]))[0]
            np.testing.assert_allclose(single, batch[u], rtol=1e-5, atol=1e-6)
        idx, _ = fitted.recommend_users(users, K)
        for u in users[:: max(1, len(users) // 6)]:
            uid = fitted.user_map.ids[u]  # type: ignore[union-attr]
            expected = fitted.item_map.to_ids(idx[u]).tolist()  # type: ignore[union-attr]
            assert fitted.recommend(uid, k=K).item_ids == expected

    # ---- fold-in of new histories -----------------------------------------------------------
    def test_fold_in(self, fitted: Recommender, toy_data: ToyData) -> None:
        history = toy_data.group_items[0][:4]
        query = Query(history=history, k=K)
        if not isinstance(fitted, FoldsIn):
            with pytest.raises(UnsupportedError):
                fitted.recommend(query)
            return
        recs = fitted.recommend(query)
        assert len(recs) == K and not set(recs.item_ids) & set(history)
        scores = fitted.score(query)
        assert scores.shape == (fitted.n_items,)
        # a known user with fresh events: the fresh items are excluded too
        user = next(iter(toy_data.held_out))
        fresh = [toy_data.held_out[user]]
        recs = fitted.recommend(Query(user_id=user, history=fresh, k=K))
        assert toy_data.held_out[user] not in recs.item_ids
        if self.fold_in_matches_known:
            users = np.arange(min(fitted.n_users, 6))
            assert fitted.history_ is not None
            direct = fitted.score_users(users)
            assert isinstance(fitted, FoldsIn)
            folded = fitted.score_histories(fitted.history_[users])
            np.testing.assert_allclose(folded, direct, rtol=1e-5, atol=1e-6)

    def test_unknown_item_in_history_raises(self, fitted: Recommender) -> None:
        with pytest.raises(UnknownIdError, match="no-such-item"):
            fitted.recommend(Query(history=["no-such-item"]))

    # ---- similar items ----------------------------------------------------------------------
    def test_similar_items(self, fitted: Recommender, toy_data: ToyData) -> None:
        item = toy_data.group_items[1][0]
        recs = fitted.similar_items(item, k=K)
        assert len(recs) == K and item not in recs.item_ids
        assert recs.scores == sorted(recs.scores, reverse=True)
        with pytest.raises(UnknownIdError):
            fitted.similar_items("no-such-item")

    # ---- persistence and reproducibility ----------------------------------------------------
    def test_save_load_round_trip(
        self, fitted: Recommender, toy_data: ToyData, tmp_path: Path
    ) -> None:
        from lmrec.models.artifacts import load_model

        fitted.save(tmp_path / "model")
        loaded = load_model(tmp_path / "model", options=fitted.options)
        assert type(loaded) is type(fitted)
        assert loaded.config == fitted.config
        users = np.arange(fitted.n_users)
        np.testing.assert_array_equal(loaded.score_users(users), fitted.score_users(users))
        user = next(iter(toy_data.held_out))
        assert loaded.recommend(user, k=K) == fitted.recommend(user, k=K)
        item = toy_data.group_items[0][1]
        assert loaded.similar_items(item, k=K) == fitted.similar_items(item, k=K)
        if isinstance(fitted, FoldsIn):
            query = Query(history=toy_data.group_items[1][:3], k=K)
            np.testing.assert_array_equal(loaded.score(query), fitted.score(query))

    def test_forget_users(self, fitted: Recommender, tmp_path: Path) -> None:
        """A forgotten user's id no longer resolves, their history and per-user state are
        empty, everyone else is scored as before, the original model is untouched, and a
        saved copy forgets them too."""
        from lmrec.models.artifacts import load_model
        from lmrec.models.forgetting import forget_users

        assert fitted.user_map is not None and fitted.history_ is not None
        gone = str(fitted.user_map.ids[0])
        others = np.arange(1, fitted.n_users)
        before = fitted.score_users(others)
        model, forgotten = forget_users(fitted, [gone, "no-such-user"])
        assert forgotten == [gone] and model is not fitted
        assert model.user_map is not None and model.history_ is not None
        assert gone not in model.user_map and gone in fitted.user_map
        assert model.history_[0].nnz == 0 and fitted.history_[0].nnz > 0
        with pytest.raises(UnknownIdError):
            model.recommend(gone)
        for attr in model.state_attrs:
            value = getattr(model, attr)
            if attr.startswith("user_") and isinstance(value, np.ndarray):
                assert not value[0].any(), f"{attr} still holds the user's row"
        if not self.forgetting_changes_others:
            np.testing.assert_allclose(model.score_users(others), before, rtol=1e-5, atol=1e-6)
        np.testing.assert_array_equal(fitted.score_users(others), before)
        model.save(tmp_path / "forgot")
        loaded = load_model(tmp_path / "forgot", options=fitted.options)
        assert loaded.user_map is not None and gone not in loaded.user_map
        assert forget_users(fitted, ["no-such-user"]) == (fitted, [])

    def test_same_seed_same_result(self, fitted: Recommender, toy_data: ToyData) -> None:
        again = self.make().fit(toy_data.train)
        users = np.arange(fitted.n_users)
        np.testing.assert_array_equal(again.score_users(users), fitted.score_users(users))

    def test_other_seed(self, fitted: Recommender, toy_data: ToyData) -> None:
        """A stochastic model's seed changes its scores; a deterministic one's does not."""
        other = self.make(seed=fitted.config.seed + 1).fit(toy_data.train)
        users = np.arange(fitted.n_users)
        same = np.array_equal(other.score_users(users), fitted.score_users(users))
        assert same is not self.stochastic

    # ---- errors and config ------------------------------------------------------------------
    def test_not_fitted_raises(self, toy_data: ToyData, tmp_path: Path) -> None:
        model = self.make()
        with pytest.raises(NotFittedError):
            model.recommend(next(iter(toy_data.held_out)))
        with pytest.raises(NotFittedError):
            model.score(Query(history=["i0"]))
        with pytest.raises(NotFittedError):
            model.recommend_users(np.array([0]), K)
        with pytest.raises(NotFittedError):
            model.similar_items("i0")
        with pytest.raises(NotFittedError):
            model.save(tmp_path / "never")

    def test_config_unknown_key_raises(self) -> None:
        with pytest.raises(ConfigError, match="no_such_key"):
            self.make(no_such_key=1)
        with pytest.raises(ConfigError, match="seed"):
            self.make(seed="not a number")

    def test_config_round_trip(self) -> None:
        model = self.make()
        cls = get_model_class(self.model_name)
        dumped = json.loads(json.dumps(model.config.model_dump(mode="json")))
        assert cls(dumped).config == model.config
        assert cls(model.config).config == model.config
        with pytest.raises(Exception):  # noqa: B017 - frozen: any attempt to change fails
            model.config.seed = 7

    def test_tuning_grid_is_valid(self) -> None:
        cls = get_model_class(self.model_name)
        grid = cls.tuning_grid
        fields = cls.config_class.model_fields
        assert set(grid) <= set(fields), f"unknown keys {set(grid) - set(fields)}"
        assert all(isinstance(v, list) and v for v in grid.values())
        points = list(itertools.product(*grid.values()))
        assert len(points) <= self.max_grid_points
        for point in points:
            self.make(**dict(zip(grid, point, strict=True)))

    # ---- quality on data with a known answer ------------------------------------------------
    def test_quality_on_block_data(self, fitted: Recommender, toy_data: ToyData) -> None:
        users = list(toy_data.held_out)
        if not self.check_quality:
            # No quality expectation; the held-out items must still be rankable.
            for u in users[:3]:
                recs = fitted.recommend(Query(user_id=u, k=fitted.n_items))
                assert toy_data.held_out[u] in recs.item_ids
            return
        if self.quality_exact:
            wrong = {u: fitted.recommend(u, k=1).item_ids for u in users}
            wrong = {u: r for u, r in wrong.items() if r != [toy_data.held_out[u]]}
            assert not wrong, f"held-out item not ranked first for {wrong}"
            return
        hits = [
            toy_data.held_out[u] in fitted.recommend(u, k=self.quality_k).item_ids for u in users
        ]
        assert np.mean(hits) >= self.quality_min_hit_rate


def _seen_by_user(data: ToyData) -> dict[str, set[str]]:
    frame = data.train.to_frame()
    return {str(u): set(g["item_id"]) for u, g in frame.groupby("user_id")}
