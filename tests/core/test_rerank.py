"""Re-rankers on small cases with known answers."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from lmrec.core.rerank import Reranker, RerankSpec, category_matrix, miscalibration, unit_rows
from lmrec.errors import ConfigError


def test_spec_parsing_and_errors() -> None:
    assert RerankSpec.parse("MMR:0.25").label == "mmr:0.25"
    for bad in ("dpp:0.5", "mmr:x", "calibrated:1.5"):
        with pytest.raises(ConfigError):
            RerankSpec.parse(bad)


def test_mmr_keeps_the_ranking_at_one_and_skips_near_duplicates_below() -> None:
    # items 0 and 1 point the same way; item 2 is orthogonal and scores a little lower
    vectors = unit_rows(np.array([[1.0, 0.0], [1.0, 0.01], [0.0, 1.0]]))
    items, scores = np.array([[0, 1, 2]]), np.array([[3.0, 2.9, 2.5]])
    keep = Reranker(RerankSpec("mmr", 1.0), vectors=vectors).apply(items, scores, 2)
    assert keep.tolist() == [[0, 1]]
    varied = Reranker(RerankSpec("mmr", 0.5), vectors=vectors).apply(items, scores, 2)
    assert varied.tolist() == [[0, 2]]


def test_calibration_follows_the_users_genre_mix() -> None:
    cats, names = category_matrix(["Action", "Action", "Comedy", "Action|Comedy", None])
    assert names == ["Action", "Comedy"] and cats[3].tolist() == [0.5, 0.5]
    assert cats[4].tolist() == [0.0, 0.0]
    history = sp.csr_matrix(np.array([[1, 0, 1, 0, 0]], dtype=np.float32))  # half and half
    items, scores = np.array([[0, 1, 2]]), np.array([[3.0, 2.9, 1.0]])
    plain = Reranker(RerankSpec("calibrated", 0.0), categories=cats).apply(
        items, scores, 2, history
    )
    calibrated = Reranker(RerankSpec("calibrated", 0.9), categories=cats).apply(
        items, scores, 2, history
    )
    assert plain.tolist() == [[0, 1]]  # all action
    assert calibrated.tolist() == [[0, 2]]  # one of each, as the user watched
    assert miscalibration(calibrated, cats, history)[0] < miscalibration(plain, cats, history)[0]


def test_reranker_needs_its_data() -> None:
    with pytest.raises(ConfigError, match="item vectors"):
        Reranker(RerankSpec("mmr", 0.5))
    with pytest.raises(ConfigError, match="categories"):
        Reranker(RerankSpec("calibrated", 0.5))
