"""Top-k with ties broken by one seeded random order of the items, never by index."""

from __future__ import annotations

import numpy as np
import pytest

from lmrec.core.ranking import NO_USER, rank, tie_priority, top_k


def test_distinct_scores_come_best_first() -> None:
    rng = np.random.default_rng(0)
    scores = rng.random((6, 500)).astype(np.float32)
    idx, top = top_k(scores, 20)
    expected = np.argsort(-scores, axis=1)[:, :20]
    np.testing.assert_array_equal(idx, expected)
    np.testing.assert_array_equal(top, np.take_along_axis(scores, expected, axis=1))


def test_ties_follow_the_tie_order_at_the_cut_and_inside_the_list() -> None:
    scores = np.array([1.0, 3.0, 3.0, 3.0, 0.0, 3.0, 2.0, 3.0])
    priority = tie_priority([NO_USER], len(scores))[0]
    idx, top = top_k(scores, 3)
    tied = np.flatnonzero(scores == 3.0)
    expected = tied[np.argsort(-priority[tied])][:3]
    np.testing.assert_array_equal(idx, expected)
    assert top.tolist() == [3.0, 3.0, 3.0]


def test_ties_do_not_favour_low_indices() -> None:
    """Over many users' tied rows, each of the tied items makes the cut about equally
    often; the lowest indices win no more than their share."""
    n, k, users = 50, 5, np.arange(2000)
    idx, _ = top_k(np.zeros((len(users), n)), k, priority=tie_priority(users, n))
    share = np.bincount(idx.ravel(), minlength=n) / idx.size
    assert share[:k].sum() < 1.5 * k / n  # index order would give the first k every time
    assert share.max() < 2 / n


def test_each_user_has_an_order_and_a_seed_gives_another() -> None:
    rows = tie_priority([0, 1, 2], 100)
    assert rows.shape == (3, 100) and len({tuple(np.argsort(r)[:5]) for r in rows}) == 3
    np.testing.assert_array_equal(tie_priority([1], 100)[0], rows[1])  # no state
    assert not np.array_equal(tie_priority([1], 100, seed=9)[0], rows[1])
    subset = np.array([5, 17, 40])
    np.testing.assert_array_equal(tie_priority([2], subset)[0], rows[2][subset])


def test_custom_priority_and_its_shape_is_checked() -> None:
    idx, _ = top_k(np.zeros(4), 2, priority=np.array([0, 3, 1, 2]))
    assert idx.tolist() == [1, 3]
    with pytest.raises(ValueError, match="priority"):
        top_k(np.zeros(4), 2, priority=np.arange(3))
    per_row = top_k(np.zeros((2, 4)), 1, priority=np.array([[0, 1, 2, 3], [3, 2, 1, 0]]))
    assert per_row[0].ravel().tolist() == [3, 0]


def test_nan_and_minus_inf_never_rank_above_real_scores() -> None:
    scores = np.array([np.nan, -np.inf, -5.0, np.nan, 0.0])
    idx, top = top_k(scores, 5)
    assert idx[:2].tolist() == [4, 2]
    assert np.all(np.isneginf(top[2:]))


def test_negative_zero_ties_with_zero() -> None:
    hits = {int(top_k(np.array([-0.0, 0.0]), 1, priority=p)[0][0]) for p in ([0, 1], [1, 0])}
    assert hits == {0, 1}


def test_rank_cuts_unrankable_items_and_applies_constraints() -> None:
    scores = np.array([5.0, 4.0, np.nan, 3.0, 2.0])
    idx, top = rank(scores, 10, excluded=np.array([0]), allowed=np.array([1, 1, 1, 0, 1], bool))
    assert idx.tolist() == [1, 4] and top.tolist() == [4.0, 2.0]
