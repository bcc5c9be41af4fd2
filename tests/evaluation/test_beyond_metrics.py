"""Beyond-accuracy metrics on lists with hand-computed answers, and through evaluate()."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from lmrec.data.splitters import random_split
from lmrec.data.synthetic import generate
from lmrec.errors import ConfigError
from lmrec.evaluation import evaluate
from lmrec.evaluation.beyond import (
    beyond_list_metrics,
    exposure_gini,
    gini,
    intra_list_diversity,
    long_tail_mask,
    popular_unseen,
)
from lmrec.models.registry import create_model


def test_gini_of_equal_and_concentrated_exposure() -> None:
    assert gini(np.array([3.0, 3.0, 3.0])) == 0.0
    assert gini(np.array([0.0, 0.0, 0.0, 8.0])) == pytest.approx(0.75)  # (n-1)/n
    assert gini(np.array([1.0, 2.0, 3.0])) == pytest.approx(2 / 9)


def test_long_tail_is_outside_the_items_holding_80_percent() -> None:
    popularity = np.array([50, 30, 10, 5, 5, 0])  # 50 + 30 = 80% of 100
    assert long_tail_mask(popularity).tolist() == [False, False, True, True, True, True]


def test_intra_list_diversity_is_the_mean_pairwise_cosine_distance() -> None:
    vectors = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    rec = np.array([[0, 1, -1], [0, 1, 2], [2, -1, -1]])
    d = intra_list_diversity(rec, vectors)
    assert d[0] == pytest.approx(1.0)  # orthogonal
    c = 1 - 1 / np.sqrt(2)
    assert d[1] == pytest.approx((1.0 + c + c) / 3)
    assert np.isnan(d[2])  # one item: no pair


def test_serendipity_counts_hits_the_popularity_list_would_not_give() -> None:
    popularity = np.array([9, 8, 7, 1, 1])
    seen = sp.csr_matrix(np.array([[1, 0, 0, 0, 0]], dtype=np.float32))
    expected = popular_unseen(popularity, seen, 2)
    assert expected.tolist() == [[1, 2]]
    rec = np.array([[1, 3]])
    hits = np.array([[True, True]])
    out = beyond_list_metrics(rec, hits, [2], ["serendipity"], expected=expected)
    assert out["serendipity@2"].tolist() == [0.5]  # item 3 is a surprise hit, 1 is not


def test_evaluate_reports_them_with_gini_intervals() -> None:
    data = generate(n_users=80, n_items=60, n_interactions=1500, seed=2)
    split = random_split(data, seed=0)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(data.n_items, 8))
    results = {}
    for name in ("pop", "random"):
        model = create_model(name).fit(split.train)
        results[name] = evaluate(
            model, split.test, exclude=split.train, ks=(10,), item_vectors=vectors
        )
    pop, rnd = results["pop"].summary(), results["random"].summary()
    # popularity concentrates exposure and stays in the head; random spreads it
    assert pop["gini@10"] > rnd["gini@10"]
    assert pop["longtail@10"] < rnd["longtail@10"]
    assert pop["serendipity@10"] == 0.0  # every pop item is what the primitive list gives
    assert 0 < rnd["diversity@10"] < 2
    lo, hi = results["pop"].meta["catalogue_ci"]["gini@10"]
    assert lo <= pop["gini@10"] <= hi


def test_diversity_by_name_needs_vectors() -> None:
    data = generate(n_users=30, n_items=20, n_interactions=300, seed=2)
    split = random_split(data, seed=0)
    model = create_model("pop").fit(split.train)
    with pytest.raises(ConfigError, match="diversity needs item text embeddings"):
        evaluate(model, split.test, exclude=split.train, metrics=["diversity@10"])
    both = evaluate(
        model, split.test, exclude=split.train, ks=(5,), metrics=["gini@5", "longtail@5"]
    )
    assert set(both.summary()) == {"gini@5", "longtail@5"}


def test_exposure_gini_interval_contains_the_value() -> None:
    rec = np.random.default_rng(1).integers(0, 30, size=(200, 10))
    values, intervals = exposure_gini(rec, 30, [5, 10])
    for key in ("gini@5", "gini@10"):
        assert intervals[key][0] <= values[key] <= intervals[key][1]
