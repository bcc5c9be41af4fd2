"""Exact and HNSW item indexes: known answers, filters that never cost results, recall."""

from __future__ import annotations

import numpy as np
import pytest

from lmrec.retrieval import HNSWIndex, ItemIndex, build_index, exact_search


def clustered(n: int, d: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(max(n // 100, 4), d))
    x = centres[rng.integers(0, len(centres), n)] + 0.3 * rng.normal(size=(n, d))
    return x.astype(np.float32)


def test_exact_index_ranks_by_inner_product() -> None:
    vecs = np.array([[1, 0], [0, 1], [2, 0], [1, 1], [-1, 0]], dtype=np.float32)
    index = ItemIndex(vecs)
    idx, scores = index.search(np.array([1.0, 0.1]), 3)
    assert idx.tolist() == [2, 3, 0]
    np.testing.assert_allclose(scores, [2.0, 1.1, 1.0], rtol=1e-6)


def test_exact_index_applies_mask_and_exclusions() -> None:
    vecs = np.array([[1, 0], [0, 1], [2, 0], [1, 1], [-1, 0]], dtype=np.float32)
    index = ItemIndex(vecs)
    allowed = np.array([True, True, False, True, True])
    idx, _ = index.search(np.array([1.0, 0.1]), 3, allowed=allowed, exclude=np.array([3]))
    assert idx.tolist() == [0, 1, 4]
    # fewer allowed items than k: a single query returns only what may be shown
    idx, _ = index.search(np.array([1.0, 0.0]), 4, allowed=np.array([0, 1, 0, 0, 0], bool))
    assert idx.tolist() == [1]
    # a batch is padded with -1 instead
    idx, scores = index.search(np.ones((2, 2)), 3, allowed=np.array([1, 1, 0, 0, 0], bool))
    assert idx.shape == (2, 3) and (idx[:, 2] == -1).all() and np.isneginf(scores[:, 2]).all()


def test_exact_search_over_narrow_subset_matches_full_scoring() -> None:
    vecs = clustered(2000, 8)
    q = vecs[:3] + 0.01
    mask = np.zeros(len(vecs), bool)
    mask[::37] = True
    idx, scores = exact_search(vecs, q, 10, mask)
    full = q @ vecs.T
    full[:, ~mask] = -np.inf
    expected = np.argsort(-full, axis=1, kind="stable")[:, :10]
    assert (idx == expected).all()
    np.testing.assert_allclose(scores, np.take_along_axis(full, expected, 1), rtol=1e-5)


@pytest.fixture(scope="module")
def hnsw() -> tuple[HNSWIndex, np.ndarray]:
    vecs = clustered(30_000, 16, seed=1)
    return HNSWIndex(vecs, m=16, ef_construction=64, ef_search=64), vecs


def test_hnsw_recall_against_exact(hnsw: tuple[HNSWIndex, np.ndarray]) -> None:
    index, vecs = hnsw
    rng = np.random.default_rng(2)
    q = vecs[rng.integers(0, len(vecs), 50)] + 0.1 * rng.normal(size=(50, 16)).astype(np.float32)
    approx, _ = index.search(q, 10)
    exact, _ = ItemIndex(vecs).search(q, 10)
    recall = np.mean([len(set(a) & set(e)) / 10 for a, e in zip(approx, exact, strict=True)])
    assert recall >= 0.9


def test_hnsw_filter_keeps_k_results(hnsw: tuple[HNSWIndex, np.ndarray]) -> None:
    index, vecs = hnsw
    q = vecs[0]
    exact_top, _ = ItemIndex(vecs).search(q, 200)
    # exclude the 150 best items: the graph's first answers are all gone, k must survive
    idx, scores = index.search(q, 10, exclude=exact_top[:150])
    assert len(idx) == 10 and not set(idx) & set(exact_top[:150])
    assert np.all(np.diff(scores) <= 0)
    # a filter letting half the items through
    allowed = np.zeros(len(vecs), bool)
    allowed[1::2] = True
    idx, _ = index.search(q, 10, allowed=allowed)
    assert len(idx) == 10 and (idx % 2 == 1).all()


def test_hnsw_narrow_filter_is_answered_exactly(hnsw: tuple[HNSWIndex, np.ndarray]) -> None:
    index, vecs = hnsw
    allowed = np.zeros(len(vecs), bool)
    allowed[[5, 77, 900, 12_345, 29_999]] = True
    idx, scores = index.search(vecs[3], 10, allowed=allowed)
    expected = np.flatnonzero(allowed)[np.argsort(-(vecs[allowed] @ vecs[3]), kind="stable")]
    assert idx.tolist() == expected.tolist()
    assert len(scores) == 5


def test_hnsw_add_makes_new_items_findable(hnsw: tuple[HNSWIndex, np.ndarray]) -> None:
    index = HNSWIndex(hnsw[1][:5000], m=16)
    new = np.full((1, 16), 50.0, dtype=np.float32)
    index.add(new)
    idx, _ = index.search(np.ones(16, np.float32), 1)
    assert idx.tolist() == [5000]


def test_build_index_picks_kind_and_reuses_cached_graph(tmp_path) -> None:
    vecs = clustered(3000, 8)
    assert build_index(vecs, ann_threshold=10_000).kind == "exact"
    path = tmp_path / "graph.faiss"
    first = build_index(vecs, ann_threshold=1000, cache_path=path)
    assert first.kind == "hnsw" and path.exists()
    again = build_index(vecs, ann_threshold=1000, cache_path=path)
    assert again.kind == "hnsw"
    q = vecs[:5]
    assert (first.search(q, 5)[0] == again.search(q, 5)[0]).all()
    # a cache built for other vectors is rebuilt, not trusted
    other = build_index(vecs[:2000], ann_threshold=1000, cache_path=path)
    assert other.n_items == 2000 and other.search(q, 1)[0].max() < 2000
