"""Fusion of fitted models: contract, normalisation and ranks with known answers,
weights chosen on validation, members saved in subdirectories."""

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from lmrec.core.query import Query
from lmrec.encoders import TextEncoder
from lmrec.errors import ConfigError, UnsupportedError
from lmrec.models.artifacts import load_model
from lmrec.models.capabilities import FoldsIn, SupportsAddItems, TextSearchable
from lmrec.models.ensemble.fusion import (
    FusionRecommender,
    normalise,
    reciprocal_ranks,
    simplex_grid,
)
from lmrec.search import supports_text_search
from lmrec.testing import RecommenderContract, blocks


class TestFusion(RecommenderContract):
    model_name = "fusion"
    model_config: ClassVar[dict[str, Any]] = {"members": ["ease", "itemknn"]}
    fold_in_matches_known = True


class TestRankFusion(RecommenderContract):
    model_name = "fusion"
    model_config: ClassVar[dict[str, Any]] = {
        "members": ["ease", "itemknn"],
        "method": "rrf",
        "weights": [0.7, 0.3],
    }


def test_normalise_over_unseen_items() -> None:
    scores = np.array([[10.0, 1.0, 2.0, 3.0], [0.0, 5.0, 5.0, np.nan]], dtype=np.float32)
    seen = sp.csr_matrix(np.array([[1, 0, 0, 0], [0, 0, 0, 0]]))
    minmax = normalise(scores, seen, "minmax")
    # row 0: stats over items 1..3 (1..3), so the seen item lands above 1
    np.testing.assert_allclose(minmax[0], [4.5, 0.0, 0.5, 1.0])
    # row 1: the unscorable item gets the row's lowest value
    np.testing.assert_allclose(minmax[1], [0.0, 1.0, 1.0, 0.0])
    z = normalise(scores, seen, "zscore")
    np.testing.assert_allclose(z[0, 1:], [-1.2247449, 0.0, 1.2247449], rtol=1e-5)


def test_reciprocal_ranks() -> None:
    scores = np.array([[0.1, 0.9, 0.5, np.nan]], dtype=np.float32)
    seen = sp.csr_matrix(np.array([[0, 1, 0, 0]]))
    rr = reciprocal_ranks(scores, seen, k=10.0)
    # unseen order: item 2 (rank 1), item 0 (rank 2); then NaN and seen items
    np.testing.assert_allclose(rr[0, [2, 0]], [1 / 11, 1 / 12], rtol=1e-6)
    assert rr[0, 1] < rr[0, 0] and rr[0, 3] < rr[0, 0]


def test_simplex_grid() -> None:
    grid = simplex_grid(3, 0.25)
    assert len(grid) == 15  # C(4 + 2, 2)
    assert all(np.isclose(w.sum(), 1.0) and (w >= 0).all() for w in grid)
    assert any(np.allclose(w, [1, 0, 0]) for w in grid)


def test_weights_chosen_on_validation_favour_the_better_member() -> None:
    toy = blocks()
    model = FusionRecommender(members=["random", "ease"]).fit(toy.train, toy.test)
    assert model.weights_ is not None and model.weights_[1] > 0.5
    tried = {(t["method"], tuple(t["weights"])): t["ndcg@10"] for t in model.trials_}
    assert len(tried) == 2 * 11  # both methods over the 0.1 grid
    assert tried[("score", (0.0, 1.0))] > 0.9 > 0.5 > tried[("score", (1.0, 0.0))]
    best = max(tried.values())
    assert best == pytest.approx(tried[(str(model.method_), tuple(model.weights_))])
    for user, item in list(toy.held_out.items())[:5]:
        assert model.recommend(user, k=1).item_ids == [item]


def test_without_validation_weights_are_equal_or_fixed() -> None:
    toy = blocks()
    assert FusionRecommender(members=["pop", "ease"]).fit(toy.train).weights_.tolist() == [
        0.5,
        0.5,
    ]
    fixed = FusionRecommender(members=["pop", "ease"], weights=[1, 3]).fit(toy.train)
    assert fixed.weights_.tolist() == [0.25, 0.75]  # type: ignore[union-attr]
    assert str(fixed.method_) == "score"


def test_members_saved_in_subdirectories(tmp_path: Path) -> None:
    toy = blocks()
    model = FusionRecommender(members=["ease", "pop"], method="rrf").fit(toy.train, toy.test)
    model.save(tmp_path / "f")
    assert (tmp_path / "f" / "members" / "0-ease" / "model.json").exists()
    assert (tmp_path / "f" / "members" / "1-pop" / "model.json").exists()
    loaded = load_model(tmp_path / "f")
    assert isinstance(loaded, FusionRecommender)
    assert [m.name for m in loaded.members_] == ["ease", "pop"]
    users = np.arange(loaded.n_users)
    np.testing.assert_array_equal(loaded.score_users(users), model.score_users(users))
    np.testing.assert_array_equal(loaded.weights_, model.weights_)  # type: ignore[arg-type]


def test_fold_in_needs_every_member_to_fold_in() -> None:
    toy = blocks()
    model = FusionRecommender(members=["ease", "ncf"], member_configs={"ncf": {"epochs": 1}})
    model.fit(toy.train)
    assert not isinstance(model, FoldsIn)
    with pytest.raises(UnsupportedError, match="ncf"):
        model.recommend(Query(history=toy.group_items[0][:2]))


def test_config_errors() -> None:
    with pytest.raises(ConfigError, match="not members"):
        FusionRecommender(members=["ease"], member_configs={"als": {}})
    with pytest.raises(ConfigError, match="2 weights for 1 members"):
        FusionRecommender(members=["ease"], weights=[1, 2])
    with pytest.raises(ConfigError, match="once"):
        FusionRecommender(members=["ease", "ease"])
    with pytest.raises(ConfigError, match="unknown model"):
        FusionRecommender(members=["nope"]).fit(blocks().train)


def test_fusion_with_a_text_model_searches_and_takes_new_items(
    minilm: TextEncoder, tmp_path: Path
) -> None:
    toy = blocks()
    hybrid = {"factors": 8, "epochs": 5, "batch_size": 32, "threads": 1, "use_cache": False}
    model = FusionRecommender(
        members=["hybrid", "content"],
        member_configs={"hybrid": hybrid, "content": {"use_cache": False}},
    ).fit(toy.train, toy.test)
    assert isinstance(model, FoldsIn) and model.text_vectors() is not None
    model.save(tmp_path / "f")
    loaded = load_model(tmp_path / "f")
    np.testing.assert_array_equal(loaded.score_users(np.arange(3)), model.score_users(np.arange(3)))
    assert isinstance(loaded, TextSearchable) and isinstance(loaded, SupportsAddItems)
    query = loaded.encode_query(["a cartoon for kids"])
    assert query.shape == (1, 384)
    report = loaded.add_items(
        pd.DataFrame({"item_id": ["new"], "title": ["Funny film 99"], "genres": ["Comedy"]})
    )
    assert report.added == ["new"] and loaded.n_items == model.n_items + 1
    assert all(m.n_items == loaded.n_items for m in loaded.members_)  # type: ignore[attr-defined]
    assert np.isfinite(loaded.score(Query(user_id="u0"))[-1])
    assert supports_text_search(loaded)
    # without text members the fusion neither takes new items nor searches
    plain = FusionRecommender(members=["ease", "pop"]).fit(toy.train)
    assert not isinstance(plain, SupportsAddItems) and not supports_text_search(plain)


def test_new_items_are_scored_by_the_members_that_read_text(minilm: TextEncoder) -> None:
    toy = blocks()
    model = FusionRecommender(
        members=["ease", "content"], member_configs={"content": {"use_cache": False}}
    ).fit(toy.train)
    ease_before = model.members_[0]
    new = {"item_id": ["new"], "title": ["Funny film 9"], "genres": ["Comedy|Romance"]}
    report = model.add_items(pd.DataFrame(new))  # type: ignore[operator]
    assert report.added == ["new"] and model.n_items == toy.train.n_items + 1
    assert model.members_[0] is ease_before and ease_before.n_items == toy.train.n_items
    assert np.isfinite(model.score(Query(user_id="u0"))).all()
    # a new user who watched comedies: the new comedy, known to content only, ranks above
    # every item of the other groups
    ranked = model.recommend(Query(history=toy.group_items[0][:4], k=model.n_items)).item_ids
    others = [ranked.index(i) for g in toy.group_items[1:] for i in g]
    assert ranked.index("new") < min(others)
