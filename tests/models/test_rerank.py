"""Two-stage ranking (`rerank`): the shared contract, training pairs from the retriever's
candidates, user attributes read when present, fallbacks named, the retriever saved."""

import shutil
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from lmrec.core.query import Query
from lmrec.data.dataset import from_frame
from lmrec.errors import ArtifactError, ConfigError, UnsupportedError
from lmrec.models.artifacts import load_model
from lmrec.models.capabilities import FoldsIn
from lmrec.models.ranking.rerank import RerankRecommender, hold_back
from lmrec.models.registry import create_model
from lmrec.testing import RecommenderContract, blocks

#: small and quick: the toy data has 24 users and 25 items
FAST: dict[str, Any] = {
    "retriever": "ease",
    "retriever_config": {"reg": 1.0},
    "candidates": 20,
    "ranker_holdout": 0.15,
    "ranker_split": "latest",
    "dim": 8,
    "hidden": (16,),
    "epochs": 15,
    "batch_size": 64,
    "lr": 0.01,
    "threads": 1,
    "use_cache": False,
}


class TestRerank(RecommenderContract):
    model_name = "rerank"
    model_config: ClassVar[dict[str, Any]] = FAST
    stochastic = True
    # the click model re-orders the retriever's top items: the held-out item stays near
    # the top, not always first
    quality_exact = False


class TestRerankFM(RecommenderContract):
    model_name = "rerank"
    model_config: ClassVar[dict[str, Any]] = {**FAST, "ranker": "fm", "use_text": False}
    stochastic = True
    quality_exact = False


def _with_user_table(data: Any) -> Any:
    """The toy data with ages, genders and occupations for all users but the last."""
    frame = data.train.to_frame()
    users = sorted(set(frame["user_id"]))[:-1]
    table = pd.DataFrame(
        {
            "user_id": users,
            "age": [20 + 3 * i for i in range(len(users))],
            "gender": ["M" if i % 2 else "F" for i in range(len(users))],
            "occupation": ["student", "writer", "engineer"] * (len(users) // 3)
            + ["student"] * (len(users) % 3),
        }
    )
    return from_frame(frame, items=data.train.items, users=table, name="toy-with-users")


def test_user_attributes_are_read_and_missing_ones_named() -> None:
    data = blocks()
    train = _with_user_table(data)
    model = create_model("rerank", FAST).fit(train)
    assert isinstance(model, RerankRecommender)
    codes = model.user_codes_
    assert codes is not None
    last = train.user_map.index_of(sorted(train.user_map.ids)[-1])
    assert (codes[np.arange(train.n_users) != last] > 0).all()  # every attribute coded
    assert not codes[last].any()  # no row in the user table: all unknown
    described = train.users
    assert described is not None
    known = described["user_id"].iloc[0]
    assert model.ranking_notes(known, ["i0"]) == [[]]
    missing = model.ranking_notes(sorted(train.user_map.ids)[-1], ["i0"])[0]
    assert len(missing) == 1 and "no user attributes" in missing[0]
    # a new history has no attributes either
    assert "no user attributes" in model.ranking_notes(None, ["i0"])[0][0]


def test_item_without_text_is_ranked_and_named() -> None:
    data = blocks()
    items = data.train.items
    assert items is not None
    bare = items.copy()
    bare.loc[bare["item_id"] == "i1", ["title", "genres", "description"]] = None
    bare.loc[bare["item_id"] == "i1", "year"] = np.nan
    train = from_frame(data.train.to_frame(), items=bare, name="toy-bare-item")
    model = create_model("rerank", FAST).fit(train)
    notes = model.ranking_notes("u9", ["i1", "i2"])  # type: ignore[attr-defined]
    assert any("no text for this item" in n for n in notes[0])
    assert not any("no text" in n for n in notes[1])
    # the item is still scored: u0's held-out item i0 is ranked, and i1 too for a user
    # who has not seen it
    scores = model.score(Query(user_id="u9"))
    assert np.isfinite(scores[train.item_map.index_of("i1")])


def test_hold_back_keeps_the_earliest_part() -> None:
    data = blocks()
    inner, targets = hold_back(data.train, 0.25, "latest", 0)
    assert inner.n_interactions + targets.nnz == data.train.n_interactions
    frame = data.train.to_frame()
    u0 = frame[frame["user_id"] == "u0"].sort_values("timestamp")
    held = set(data.train.item_map.to_ids(targets[data.train.user_map.index_of("u0")].indices))
    assert held == set(u0["item_id"].iloc[-2:])  # 8 interactions x 0.25 = the last 2


def test_bad_configs_say_what_to_fix() -> None:
    with pytest.raises(ConfigError, match="cannot retrieve for itself"):
        create_model("rerank", {"retriever": "rerank"})
    with pytest.raises(ConfigError, match="unknown model 'nosuch'"):
        create_model("rerank", {"retriever": "nosuch"})
    with pytest.raises(ConfigError, match="ranker"):
        create_model("rerank", {"ranker": "gbdt"})


def test_retriever_is_saved_beside_the_ranker(tmp_path: Path) -> None:
    data = blocks()
    model = create_model("rerank", {**FAST, "retriever": "itemknn", "retriever_config": {}})
    model.fit(data.train).save(tmp_path / "m")
    assert (tmp_path / "m" / "retriever" / "model.json").exists()
    loaded = load_model(tmp_path / "m")
    assert loaded.retriever_.name == "itemknn"  # type: ignore[attr-defined]
    assert loaded.recommend("u3", k=5) == model.recommend("u3", k=5)
    assert isinstance(loaded, FoldsIn)
    shutil.rmtree(tmp_path / "m" / "retriever")
    with pytest.raises(ArtifactError, match="retriever is missing"):
        load_model(tmp_path / "m")


def test_fold_in_follows_the_retriever() -> None:
    data = blocks()
    config = {**FAST, "retriever": "ncf", "retriever_config": {"epochs": 2, "factors": 4}}
    model = create_model("rerank", config).fit(data.train)
    assert not isinstance(model, FoldsIn)
    with pytest.raises(UnsupportedError, match="cannot score a new history"):
        model.recommend(Query(history=["i0", "i1"]))
    assert len(model.recommend("u0", k=3)) == 3


def test_signal_models_are_read_saved_and_loaded(tmp_path: Path) -> None:
    data = blocks()
    config = {**FAST, "signals": ["itemknn", "pop"], "signal_configs": {"itemknn": {}}}
    model = create_model("rerank", config).fit(data.train)
    assert isinstance(model, RerankRecommender)
    assert [m.name for m in model.signals_] == ["itemknn", "pop"]
    assert model.vocab_ is not None and model.vocab_[-1] == 5 + 2  # two more dense values
    model.save(tmp_path / "m")
    assert (tmp_path / "m" / "signals" / "0-itemknn" / "model.json").exists()
    loaded = load_model(tmp_path / "m")
    users = np.arange(model.n_users)
    np.testing.assert_array_equal(loaded.score_users(users), model.score_users(users))
    with pytest.raises(ConfigError, match="not signals"):
        create_model("rerank", {"signals": ["als"], "signal_configs": {"ease": {}}})
    with pytest.raises(ConfigError, match="appear once"):
        create_model("rerank", {"signals": ["als", "als"]})


def test_multi_task_heads_rank_by_their_combination() -> None:
    data = blocks(explicit=True)
    config = {**FAST, "click_threshold": 4.0, "extra_heads": [5.0, None]}
    single = create_model("rerank", config).fit(data.train)
    assert isinstance(single, RerankRecommender) and single.net_ is not None
    assert single.net_.n_tasks == 3
    weighted = create_model("rerank", {**config, "head_weights": [0.0, 0.0, 1.0]})
    weighted = weighted.fit(data.train)
    assert isinstance(weighted, RerankRecommender)
    users = np.arange(data.train.n_users)
    # the same training (same seed, same heads); only the combination that orders differs
    assert not np.array_equal(weighted.score_users(users), single.score_users(users))
    seen = data.train.binary_csr[users[:4]]
    items = np.tile(np.arange(6), (4, 1))
    loved = create_model("rerank", {**config, "click_head": 1}).fit(data.train)
    assert isinstance(loved, RerankRecommender)
    p_liked = single.click_probabilities(users[:4], items, seen)
    p_loved = loved.click_probabilities(users[:4], items, seen)
    assert p_liked.shape == (4, 6) and not np.allclose(p_liked, p_loved)
    with pytest.raises(ConfigError, match="head_weights needs 3"):
        create_model("rerank", {**config, "head_weights": [1.0]})
    with pytest.raises(ConfigError, match="click_head"):
        create_model("rerank", {**config, "click_head": 3})
