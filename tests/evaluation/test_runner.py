"""The runner on a 4-user, 6-item dataset whose scores the test fixes, so every metric
value can be worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from lmrec.data.dataset import Dataset, from_frame
from lmrec.data.idmap import IdMap
from lmrec.errors import ConfigError, DataError, UnsupportedError
from lmrec.evaluation import evaluate
from lmrec.evaluation.runner import auto_batch_size, metric_label
from lmrec.models.base import ModelConfig, Recommender
from lmrec.models.capabilities import FoldsIn

IDCG2 = 1 + 1 / math.log2(3)  # ideal DCG of two relevant items = 1.6309298

# Scores per user over items i0..i5 (rows u0..u3).
SCORES = np.array(
    [
        [0.9, 0.8, 0.7, 0.1, 0.5, 0.3],  # u0
        [0.1, 0.2, 0.9, 0.3, 0.4, 0.5],  # u1
        [0.5, 0.5, 0.5, 0.5, 0.5, 0.5],  # u2 (no test items: not evaluated)
        [0.6, 0.5, 0.4, 0.3, 0.2, 0.1],  # u3
    ],
    dtype=np.float32,
)


class FixedScores(Recommender[ModelConfig]):
    """Returns the SCORES table; a fold-in history scores its own items 1, others 0."""

    name = "fixed"

    def _fit(self, train: Dataset, valid: Dataset | None) -> None:
        pass

    def score_users(self, users: np.ndarray) -> np.ndarray:
        return SCORES[users].copy()

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        tie_break = -np.arange(self.n_items, dtype=np.float32) * 1e-3  # lower index first
        return (histories.toarray() > 0).astype(np.float32) + tie_break


class NoFoldIn(FixedScores):
    name = "fixed-no-fold-in"

    def declined_capabilities(self) -> frozenset[type]:
        return frozenset({FoldsIn})


class ConstantRating(FixedScores):
    name = "constant-rating"

    def predict(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        return np.full(len(users), 3.0)


def _split() -> tuple[Dataset, Dataset, Dataset]:
    rows = [  # (user, item, rating, part)
        ("u0", "i0", 4, "train"),
        ("u0", "i1", 4, "train"),
        ("u1", "i2", 5, "train"),
        ("u2", "i0", 3, "train"),
        ("u3", "i5", 2, "train"),
        ("u0", "i2", 4, "test"),
        ("u0", "i3", 2, "test"),
        ("u1", "i0", 5, "test"),
        ("u3", "i4", 3, "test"),
    ]
    users, items, ratings, parts = zip(*rows, strict=True)
    full = Dataset(
        user_map=IdMap([f"u{u}" for u in range(4)], kind="user"),
        item_map=IdMap([f"i{i}" for i in range(6)], kind="item"),
        users_idx=np.array([int(u[1]) for u in users]),
        items_idx=np.array([int(i[1]) for i in items]),
        values=np.array(ratings, dtype=np.float32),
        timestamps=np.zeros(len(rows), dtype=np.int64),
        explicit=True,
    )
    part = np.array(parts)
    return full, full.subset(part == "train", "train"), full.subset(part == "test", "test")


def test_full_ranking_with_train_items_excluded() -> None:
    _, train, test = _split()
    model = FixedScores().fit(train)
    res = evaluate(model, test, exclude=[train], ks=(1, 3), metrics=["ndcg", "recall", "hit"])
    # after excluding train items the lists are
    #   u0: i2 i4 i5 i3   (test i2, i3) -> hit at rank 1 (and rank 4)
    #   u1: i5 i4 i3 i1 i0 (test i0)     -> hit at rank 5
    #   u3: i0 i1 i2 i3 i4 (test i4)     -> hit at rank 5
    assert list(res.per_user.index) == ["u0", "u1", "u3"]  # u2 has no test items
    assert res.per_user.loc["u0", "ndcg@1"] == pytest.approx(1.0)
    # u0 @3: DCG = 1, IDCG over min(2, 3) = 2 ranks = 1.6309298
    assert res.per_user.loc["u0", "ndcg@3"] == pytest.approx(1 / IDCG2)
    assert res.per_user.loc["u0", "recall@3"] == pytest.approx(0.5)
    assert res.summary()["ndcg@3"] == pytest.approx(1 / IDCG2 / 3)
    assert res.summary()["hit@3"] == pytest.approx(1 / 3)
    assert list(res.n_relevant) == [2, 1, 1]
    assert list(res.per_user.columns) == [
        "ndcg@1", "ndcg@3", "recall@1", "recall@3", "hit@1", "hit@3"
    ]  # fmt: skip


def test_without_exclusion_seen_items_take_the_top() -> None:
    _, train, test = _split()
    res = evaluate(FixedScores().fit(train), test, exclude=None, ks=(3,), metrics=["ndcg"])
    # u0's list is i0 i1 i2: the test item i2 falls to rank 3 -> DCG = 1/log2(4) = 0.5
    assert res.per_user.loc["u0", "ndcg@3"] == pytest.approx(0.5 / IDCG2)


def test_k_larger_than_the_catalogue() -> None:
    _, train, test = _split()
    res = evaluate(FixedScores().fit(train), test, exclude=[train], ks=(10,))
    u0 = res.per_user.loc["u0"]
    # only 4 items are rankable for u0 (i2 i4 i5 i3): both test items found at ranks 1 and 4
    assert u0["recall@10"] == pytest.approx(1.0)
    assert u0["precision@10"] == pytest.approx(0.2)  # 2 / 10
    assert u0["ndcg@10"] == pytest.approx((1 + 1 / math.log2(5)) / IDCG2)
    # u1 finds i0 at rank 5 of 5 rankable items: MRR 1/5
    assert res.per_user.loc["u1", "mrr@10"] == pytest.approx(0.2)
    assert res.summary()["coverage@10"] == pytest.approx(1.0)


def test_list_metrics_and_coverage() -> None:
    _, train, test = _split()
    res = evaluate(
        FixedScores().fit(train),
        test,
        exclude=[train],
        ks=(1, 3),
        metrics=["ItemCoverage", "popularity", "novelty"],
    )
    # training users per item: i0 2, i1 1, i2 1, i3 0, i4 0, i5 1; 4 training users
    # top-1: u0 i2, u1 i5, u3 i0 -> coverage 3/6; top-3 lists cover all six items
    assert res.catalogue == {"coverage@1": 0.5, "coverage@3": 1.0}
    assert list(res.per_user["popularity@1"]) == [1, 1, 2]
    # u0 @3 = i2 i4 i5: (1 + 0 + 1) / 3; novelty -log2(1/4) = 2 for each (i4 counts as one)
    assert res.per_user.loc["u0", "popularity@3"] == pytest.approx(2 / 3)
    assert res.per_user.loc["u0", "novelty@3"] == pytest.approx(2.0)
    assert res.per_user.loc["u3", "novelty@1"] == pytest.approx(1.0)  # -log2(2/4)


def test_candidates_restrict_ranking_and_relevance() -> None:
    _, train, test = _split()
    model = FixedScores().fit(train)
    res = evaluate(model, test, exclude=[train], ks=(2, 3), candidates=["i3", "i4"])
    # u1's test item i0 is no candidate: u1 is not evaluated
    # u0 ranks i4 (0.5) > i3 (0.1), test i3 at rank 2; u3 ranks i3 > i4, test i4 at rank 2
    assert list(res.per_user.index) == ["u0", "u3"]
    np.testing.assert_allclose(res.per_user["ndcg@2"], [1 / math.log2(3)] * 2)
    np.testing.assert_allclose(res.per_user["precision@3"], [1 / 3] * 2)  # 2 items, k = 3
    assert res.meta["n_items_ranked"] == 2
    by_index = evaluate(model, test, exclude=[train], ks=(2,), candidates=np.array([4, 3]))
    pd.testing.assert_series_equal(by_index.per_user["ndcg@2"], res.per_user["ndcg@2"])


def test_test_items_already_seen_count_but_cannot_be_found() -> None:
    full, train, _ = _split()
    res = evaluate(FixedScores().fit(train), full, exclude=[train], ks=(10,), metrics=["recall"])
    # u2's only item (i0) is in train: relevant, excluded, never found (RecBole's convention)
    assert res.per_user.loc["u2", "recall@10"] == 0.0
    assert res.meta["n_test_items_excluded"] == train.n_interactions


def test_exclusion_as_a_matrix_equals_exclusion_as_datasets() -> None:
    _, train, test = _split()
    model = FixedScores().fit(train)
    a = evaluate(model, test, exclude=[train], ks=(3,))
    b = evaluate(model, test, exclude=train.binary_csr, ks=(3,))
    pd.testing.assert_frame_equal(a.per_user, b.per_user)


def test_history_feeds_fold_in_models() -> None:
    _, train, test = _split()
    res = evaluate(FixedScores().fit(train), test, exclude=None, ks=(2,), history=test)
    # every user's history is their test items, which the fold-in scorer puts on top
    assert res.meta["scored_by"] == "score_histories"
    np.testing.assert_allclose(res.per_user["recall@2"], [1, 1, 1])
    res = evaluate(NoFoldIn().fit(train), test, exclude=None, ks=(2,), history=test)
    assert res.meta["scored_by"] == "score_users"


def test_rating_metrics_for_models_that_predict() -> None:
    _, train, test = _split()
    res = evaluate(ConstantRating().fit(train), test, exclude=[train], ks=(3,))
    # test ratings 4, 2, 5, 3 vs 3: errors 1, -1, 2, 0 -> RMSE sqrt(6/4), MAE 4/4
    assert res.catalogue["rmse"] == pytest.approx(math.sqrt(1.5))
    assert res.catalogue["mae"] == pytest.approx(1.0)
    assert "rmse" not in evaluate(FixedScores().fit(train), test, exclude=None).summary()
    with pytest.raises(UnsupportedError, match="does not predict"):
        evaluate(FixedScores().fit(train), test, exclude=None, metrics=["rmse"])


def _random_split(seed: int = 0) -> tuple[Dataset, Dataset]:
    rng = np.random.default_rng(seed)
    n = 4000
    df = pd.DataFrame(
        {"user_id": rng.integers(0, 300, n), "item_id": rng.integers(0, 150, n) ** 2 % 149}
    )
    ds = from_frame(df)
    mask = rng.random(len(ds)) < 0.8
    return ds.subset(mask, "train"), ds.subset(~mask, "test")


class RandomTable(Recommender):
    name = "random-table"

    def _fit(self, train: Dataset, valid: Dataset | None) -> None:
        rng = np.random.default_rng(self.config.seed)
        self.table = rng.random((self.n_users, self.n_items)).astype(np.float32)
        self.table[:, ::7] = np.nan  # some items cannot be scored

    def score_users(self, users: np.ndarray) -> np.ndarray:
        return self.table[users]


def test_chunked_evaluation_equals_unchunked() -> None:
    train, test = _random_split()
    model = RandomTable().fit(train)
    whole = evaluate(model, test, exclude=[train], ks=(5, 20), batch_size=10_000)
    for batch in (1, 7, None):
        part = evaluate(model, test, exclude=[train], ks=(5, 20), batch_size=batch)
        pd.testing.assert_frame_equal(part.per_user, whole.per_user)
        assert part.catalogue == whole.catalogue
    assert whole.n_users > 250


def test_with_ci_lists_every_metric() -> None:
    train, test = _random_split()
    res = evaluate(RandomTable().fit(train), test, exclude=[train], ks=(10,))
    ci = res.with_ci(n_boot=200, seed=1)
    assert list(ci.index) == list(res.summary())
    ranked = ci.loc[list(res.per_user.columns)]
    assert ((ranked["ci_low"] <= ranked["mean"]) & (ranked["mean"] <= ranked["ci_high"])).all()
    assert ci.loc["coverage@10"].isna()[["ci_low", "ci_high"]].all()
    pd.testing.assert_frame_equal(ci, res.with_ci(n_boot=200, seed=1))


def test_compare_two_results() -> None:
    _, train, test = _split()
    a = evaluate(FixedScores().fit(train), test, exclude=None, ks=(3,))
    b = evaluate(FixedScores().fit(train), test, exclude=[train], ks=(3,))
    res = a.compare(b, "ndcg@3", n_boot=50)
    assert res.n == 3 and res.mean_diff == pytest.approx(
        b.summary()["ndcg@3"] - a.summary()["ndcg@3"]
    )
    with pytest.raises(ConfigError, match="not in the results"):
        a.compare(b, "auc@3")


def test_metric_names_and_errors() -> None:
    assert metric_label("NDCG@10") == "ndcg@10" and metric_label("AveragePopularity@5") == (
        "popularity@5"
    )
    _, train, test = _split()
    model = FixedScores().fit(train)
    res = evaluate(model, test, exclude=None, ks=(1,), metrics=["Recall@2"])
    assert list(res.per_user.columns) == ["recall@1", "recall@2"]
    with pytest.raises(ConfigError, match="unknown metric"):
        evaluate(model, test, exclude=None, metrics=["gauc"])
    with pytest.raises(ConfigError, match="positive"):
        evaluate(model, test, exclude=None, ks=(0,))
    other, _ = _random_split()
    with pytest.raises(DataError, match="catalogue"):
        evaluate(model, other, exclude=None)
    with pytest.raises(DataError, match="no interactions"):
        evaluate(model, test, exclude=None, candidates=["i1"])


def test_auto_batch_size_follows_catalogue_and_budget() -> None:
    assert auto_batch_size(1 << 12) == 1 << 10  # about 4M scores per chunk
    assert auto_batch_size(100_000, memory_mb=64) == 33  # 64 MiB / (20 B x 100k)
    assert auto_batch_size(10**9) == 1
