from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp

from lmrec.models.neighbours import knn
from lmrec.models.neighbours.knn import ItemKNN, UserKNN, cosine_topk
from lmrec.testing import RecommenderContract, rng_interactions


class TestItemKNN(RecommenderContract):
    model_name = "itemknn"
    fold_in_matches_known = True


class TestItemKNNNormalized(RecommenderContract):
    model_name = "itemknn"
    model_config: ClassVar[dict[str, Any]] = {"neighbors": 5, "normalize": True, "shrink": 0.0}
    fold_in_matches_known = True


class TestUserKNN(RecommenderContract):
    model_name = "userknn"
    model_config: ClassVar[dict[str, Any]] = {"neighbors": 5}
    forgetting_changes_others = True  # the forgotten user was others' neighbour


def _dense_cosine(x: np.ndarray, shrink: float) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1)
    return (x @ x.T) / (np.outer(norms, norms) + shrink + 1e-12)


def test_cosine_topk_keeps_the_k_largest_per_row() -> None:
    x = rng_interactions(n_users=30, n_items=15, seed=1).binary_csr.T.tocsr()
    sims = cosine_topk(x, x, neighbors=4, shrink=2.0, exclude_self=True).toarray()
    full = _dense_cosine(x.toarray(), 2.0)
    np.fill_diagonal(full, 0.0)
    for row, kept in zip(full, sims, strict=True):
        nz = np.flatnonzero(kept)
        assert len(nz) == 4
        np.testing.assert_allclose(kept[nz], row[nz], rtol=1e-5)
        assert kept[nz].min() >= np.sort(row)[-4] - 1e-6


def test_cosine_topk_chunks_give_the_same_result(monkeypatch) -> None:
    x = rng_interactions(n_users=40, n_items=25, seed=2).binary_csr.T.tocsr()
    whole = cosine_topk(x, x, 6, 1.0, exclude_self=True)
    monkeypatch.setattr(knn, "_CHUNK_FLOATS", 30)  # one row per chunk
    chunked = cosine_topk(x, x, 6, 1.0, exclude_self=True)
    assert (whole != chunked).nnz == 0


def test_itemknn_scores_are_history_times_similarity() -> None:
    data = rng_interactions(seed=5)
    model = ItemKNN(neighbors=3, shrink=0.0).fit(data)
    x = data.binary_csr.toarray()
    np.testing.assert_allclose(
        model.score_users(np.arange(data.n_users)), x @ model.similarity_.toarray(), rtol=1e-5
    )
    # each item keeps at most 3 neighbours (column j of similarity_ = neighbours of j)
    assert (np.diff(sp.csc_matrix(model.similarity_).indptr) <= 3).all()


def test_userknn_never_counts_the_user_as_own_neighbour() -> None:
    data = rng_interactions(n_users=12, n_items=10, seed=6)
    model = UserKNN(neighbors=data.n_users, shrink=0.0).fit(data)
    x = data.binary_csr.toarray()
    sims = _dense_cosine(x, 0.0)
    np.fill_diagonal(sims, 0.0)
    np.testing.assert_allclose(
        model.score_users(np.arange(data.n_users)), sims @ x, rtol=1e-5, atol=1e-6
    )


def test_sparse_and_dense_selection_keep_the_same_similarities(monkeypatch) -> None:
    x = rng_interactions(n_users=60, n_items=40, density=0.05, seed=7).binary_csr.T.tocsr()
    results = []
    for share in (0.0, float("inf")):  # 0: always dense; inf: always sparse
        monkeypatch.setattr(knn, "_DENSE_SHARE", share)
        results.append(cosine_topk(x, x, 5, 1.0, exclude_self=True))
    dense, sparse = results
    # equal similarities may tie at the cut-off, so compare the kept values per row
    for a, b in zip(dense, sparse, strict=True):
        np.testing.assert_allclose(np.sort(a.data), np.sort(b.data), rtol=1e-6)
    assert (sparse.diagonal() == 0).all()
