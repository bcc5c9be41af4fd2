"""Metric values computed by hand (arithmetic in the comments) and against a per-user
reference written straight from the definitions in docs/metrics.md."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lmrec.errors import ConfigError
from lmrec.evaluation import metrics as M

LOG2_3 = math.log2(3)  # 1.5849625...

# Three users, lists of length 4 (1 = relevant item at that rank).
HITS = np.array(
    [
        [1, 0, 1, 0],  # user 0: 3 relevant items
        [0, 0, 0, 0],  # user 1: 2 relevant items, none found
        [0, 1, 0, 0],  # user 2: 1 relevant item
    ],
    dtype=bool,
)
N_REL = np.array([3, 2, 1])


def test_precision_recall_f1_by_hand() -> None:
    r = M.ranking_metrics(HITS, N_REL, ks=[2, 4], metrics=["precision", "recall", "f1"])
    # @4: user 0 found 2 of 4 shown, 2 of 3 relevant; user 2 found 1 of 4, 1 of 1
    np.testing.assert_allclose(r["precision@4"], [2 / 4, 0, 1 / 4])
    np.testing.assert_allclose(r["recall@4"], [2 / 3, 0, 1])
    # f1 user 0 = 2 * 0.5 * (2/3) / (0.5 + 2/3) = (2/3) / (7/6) = 4/7;
    # user 2 = 2 * 0.25 * 1 / 1.25 = 0.4
    np.testing.assert_allclose(r["f1@4"], [4 / 7, 0, 0.4])
    # @2: user 0 shows [hit, miss]: P = 1/2, R = 1/3, F1 = (1/3) / (5/6) = 2/5
    #     user 2 shows [miss, hit]: P = 1/2, R = 1, F1 = 1 / 1.5 = 2/3
    np.testing.assert_allclose(r["precision@2"], [0.5, 0, 0.5])
    np.testing.assert_allclose(r["recall@2"], [1 / 3, 0, 1])
    np.testing.assert_allclose(r["f1@2"], [0.4, 0, 2 / 3])


def test_ndcg_by_hand() -> None:
    r = M.ranking_metrics(HITS, N_REL, ks=[2, 4], metrics=["ndcg"])
    # user 0 @4: DCG = 1/log2(2) + 1/log2(4) = 1.5; IDCG over min(3, 4) = 3 positions
    #            = 1 + 1/log2(3) + 1/2 = 2.1309298 -> 0.7039180
    # user 2 @4: DCG = 1/log2(3) = 0.6309298; IDCG over min(1, 4) = 1 position = 1
    np.testing.assert_allclose(r["ndcg@4"], [1.5 / (1.5 + 1 / LOG2_3), 0, 1 / LOG2_3])
    np.testing.assert_allclose(r["ndcg@4"], [0.7039180, 0, 0.6309298], atol=1e-7)
    # user 0 @2: DCG = 1; IDCG over min(3, 2) = 2 positions = 1 + 1/log2(3) -> 0.6131472
    np.testing.assert_allclose(r["ndcg@2"], [0.6131472, 0, 0.6309298], atol=1e-7)


def test_mrr_hit_map_by_hand() -> None:
    r = M.ranking_metrics(HITS, N_REL, ks=[1, 2, 4], metrics=["mrr", "hit", "map"])
    # first hit: user 0 at rank 1, user 2 at rank 2 (so nothing within k = 1)
    np.testing.assert_allclose(r["mrr@4"], [1, 0, 0.5])
    np.testing.assert_allclose(r["mrr@1"], [1, 0, 0])
    np.testing.assert_allclose(r["hit@4"], [1, 0, 1])
    np.testing.assert_allclose(r["hit@1"], [1, 0, 0])
    # MAP@4 user 0: precision at hit ranks 1 and 3 = 1/1 + 2/3 = 5/3, / min(3, 4) = 3 -> 5/9
    #       user 2: precision at rank 2 = 1/2, / min(1, 4) = 1 -> 1/2
    np.testing.assert_allclose(r["map@4"], [5 / 9, 0, 0.5])
    # MAP@2 user 0: 1/1, / min(3, 2) = 2 -> 1/2; user 2: 1/2 / 1 -> 1/2
    np.testing.assert_allclose(r["map@2"], [0.5, 0, 0.5])


def test_k_beyond_the_list_counts_missing_ranks_as_misses() -> None:
    r = M.ranking_metrics(HITS, N_REL, ks=[6])
    # precision divides by k even though only 4 items were listed: 2/6 and 1/6
    np.testing.assert_allclose(r["precision@6"], [1 / 3, 0, 1 / 6])
    np.testing.assert_allclose(r["recall@6"], [2 / 3, 0, 1])
    # IDCG uses min(|rel|, 6) = 3 for user 0, unchanged from @4
    np.testing.assert_allclose(r["ndcg@6"], [0.7039180, 0, 0.6309298], atol=1e-7)
    np.testing.assert_allclose(r["map@6"], [5 / 9, 0, 0.5])


def test_no_hits_and_no_relevant_items_give_zero() -> None:
    hits = np.zeros((2, 3), dtype=bool)
    r = M.ranking_metrics(hits, np.array([2, 0]), ks=[3])
    for key, values in r.items():
        np.testing.assert_array_equal(values, [0.0, 0.0], err_msg=key)
    # a user with no relevant items scores 0 even if the hit matrix says otherwise
    r = M.ranking_metrics(np.ones((1, 2), dtype=bool), np.array([0]), ks=[2])
    assert all(v[0] == 0.0 for v in r.values())


def test_all_relevant_at_the_top_is_perfect() -> None:
    hits = np.array([[1, 1, 0, 0]], dtype=bool)
    r = M.ranking_metrics(hits, np.array([2]), ks=[4])
    for name in ("recall", "ndcg", "mrr", "hit", "map"):
        assert r[f"{name}@4"][0] == pytest.approx(1.0), name
    assert r["precision@4"][0] == pytest.approx(0.5)


def _reference(row: np.ndarray, n_rel: int, k: int) -> dict[str, float]:
    """One user, straight from the definitions (loops, no cumulative tricks)."""
    top = [bool(h) for h in row[:k]] + [False] * max(0, k - len(row))
    found = sum(top)
    precision, recall = found / k, found / n_rel
    dcg = sum(1 / math.log2(i + 2) for i, h in enumerate(top) if h)
    idcg = sum(1 / math.log2(i + 2) for i in range(min(n_rel, k)))
    first = next((i for i, h in enumerate(top) if h), None)
    ap = sum(sum(top[: i + 1]) / (i + 1) for i, h in enumerate(top) if h)
    return {
        "precision": precision,
        "recall": recall,
        "f1": 0.0 if found == 0 else 2 * precision * recall / (precision + recall),
        "ndcg": dcg / idcg,
        "mrr": 0.0 if first is None else 1 / (first + 1),
        "hit": float(found > 0),
        "map": ap / min(n_rel, k),
    }


def test_matches_per_user_reference_on_random_lists() -> None:
    rng = np.random.default_rng(7)
    hits = rng.random((60, 12)) < 0.25
    n_rel = hits.sum(axis=1) + rng.integers(1, 6, size=60)  # at least the hits, plus more
    ks = [1, 3, 5, 12, 15]
    r = M.ranking_metrics(hits, n_rel, ks)
    for u in range(60):
        for k in ks:
            for name, expected in _reference(hits[u], int(n_rel[u]), k).items():
                assert r[f"{name}@{k}"][u] == pytest.approx(expected), (u, k, name)


def test_list_metrics_by_hand() -> None:
    # popularity = training users per item; 8 training users
    popularity = np.array([8, 4, 2, 0])
    rec = np.array([[0, 1, 3], [2, -1, -1]])  # user 1's list holds one item only
    r = M.list_metrics(rec, popularity, 8, ks=[1, 3])
    # user 0 @3: (8 + 4 + 0) / 3 = 4; user 1: only item 2 -> 2
    np.testing.assert_allclose(r["popularity@3"], [4, 2])
    np.testing.assert_allclose(r["popularity@1"], [8, 2])
    # self-information -log2(share): item 0: -log2(8/8) = 0, item 1: 1, item 2: 2,
    # item 3 (never seen) counts as one user: -log2(1/8) = 3
    np.testing.assert_allclose(r["novelty@3"], [(0 + 1 + 3) / 3, 2])
    np.testing.assert_allclose(r["novelty@1"], [0, 2])
    empty = M.list_metrics(np.array([[-1, -1]]), popularity, 8, ks=[2])
    assert np.isnan(empty["popularity@2"][0])


def test_coverage_by_hand() -> None:
    rec = np.array([[0, 1, 2], [0, 3, -1]])
    # @1: {0} of 5 items; @3: {0, 1, 2, 3} of 5 (the -1 is no item)
    assert M.item_coverage(rec, 5, ks=[1, 3]) == {"coverage@1": 0.2, "coverage@3": 0.8}


def test_rmse_mae_by_hand() -> None:
    # errors 1, -1, 2, 0: RMSE = sqrt((1 + 1 + 4 + 0) / 4) = sqrt(1.5); MAE = 4 / 4 = 1
    assert M.rmse(np.array([4, 2, 5, 3]), np.array([3, 3, 3, 3])) == pytest.approx(math.sqrt(1.5))
    assert M.mae(np.array([4, 2, 5, 3]), np.array([3, 3, 3, 3])) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        M.rmse(np.array([1.0]), np.array([1.0, 2.0]))


def test_bad_cutoffs_and_names_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="positive"):
        M.ranking_metrics(HITS, N_REL, ks=[0])
    with pytest.raises(ConfigError, match="unknown"):
        M.ranking_metrics(HITS, N_REL, ks=[2], metrics=["auc"])


def test_direction_of_metrics() -> None:
    assert M.lower_is_better("rmse") and M.lower_is_better("popularity@10")
    assert not M.lower_is_better("ndcg@10") and not M.lower_is_better("novelty@10")
