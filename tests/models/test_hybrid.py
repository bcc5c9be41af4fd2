"""Hybrid MF (ID + projected MiniLM text): contract, cold items scored through text,
fold-in, add_items and persistence, with the real text model on tiny data."""

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from lmrec.core.query import Query
from lmrec.data.dataset import Dataset, from_frame
from lmrec.encoders import TextEncoder
from lmrec.errors import DataError
from lmrec.models.artifacts import load_model
from lmrec.models.capabilities import InnerProduct, SupportsAddItems
from lmrec.models.neural.hybrid import HybridRecommender
from lmrec.testing import RecommenderContract, blocks
from lmrec.testing.toy import COLD_ITEM

#: small and quick: the toy data has 24 users and 25 items
FAST: dict[str, Any] = {
    "factors": 16,
    "epochs": 40,
    "batch_size": 32,
    "lr": 0.1,
    "reg": 0.01,
    "threads": 1,
    "use_cache": False,
}


class TestHybrid(RecommenderContract):
    model_name = "hybrid"
    model_config: ClassVar[dict[str, Any]] = FAST
    stochastic = True
    # a factor model trained by SGD gets the held-out item near the top, not always first
    quality_exact = False


# ---- cold items scored through their text ---------------------------------------------------
GENRES = {
    "space": ("Space war in the stars", "Sci-Fi|Action"),
    "love": ("A love story in Paris", "Romance|Drama"),
    "ghost": ("Haunted house of ghosts", "Horror"),
}


def taste_data(n_users: int = 12, n_items: int = 8) -> tuple[Dataset, dict[str, str]]:
    """Three tastes (space, love, ghost films); each user watches the films of one taste.
    One film of each taste is new: in the catalogue, with no interactions."""
    items, log, new = [], [], {}
    for taste, (plot, genres) in GENRES.items():
        for j in range(n_items + 1):
            item = f"{taste}{j}"
            items.append({"item_id": item, "title": f"{plot}, part {j}", "genres": genres})
        new[taste] = f"{taste}{n_items}"
        for u in range(n_users):
            for j in range(n_items):
                if (u + j) % 4:  # not everyone watched everything
                    log.append({"user_id": f"{taste}-fan{u}", "item_id": f"{taste}{j}"})
    return from_frame(pd.DataFrame(log), items=pd.DataFrame(items), name="tastes"), new


@pytest.fixture(scope="module")
def tastes(minilm: TextEncoder) -> tuple[HybridRecommender, dict[str, str]]:
    data, new = taste_data()
    model = HybridRecommender(FAST, id_dropout=0.5)
    return model.fit(data), new


def test_new_item_whose_text_fits_the_user_ranks_first_among_new_items(
    tastes: tuple[HybridRecommender, dict[str, str]],
) -> None:
    model, new = tastes
    assert not model.has_id_[model.item_map.lookup(list(new.values()))].any()  # type: ignore
    for taste, item in new.items():
        recs = model.recommend(Query(user_id=f"{taste}-fan0", candidates=list(new.values()), k=3))
        assert recs.item_ids[0] == item, (taste, recs)


def test_fold_in_of_a_new_history(tastes: tuple[HybridRecommender, dict[str, str]]) -> None:
    model, _ = tastes
    recs = model.recommend(Query(history=["ghost0", "ghost1", "ghost2"], k=4))
    assert all(i.startswith("ghost") for i in recs.item_ids)
    assert not {"ghost0", "ghost1", "ghost2"} & set(recs.item_ids)
    # folding in a known user's history gives about the user's own ranking
    user = model.user_map.index_of("love-fan3")  # type: ignore[union-attr]
    folded = model.score_histories(model.history_[[user]])[0]  # type: ignore[index]
    direct = model.score_users(np.array([user]))[0]
    assert np.corrcoef(folded, direct)[0, 1] > 0.9


def test_add_items_from_text_alone(
    tastes: tuple[HybridRecommender, dict[str, str]], tmp_path: Path
) -> None:
    model, _ = tastes
    model.save(tmp_path / "before")
    model = load_model(tmp_path / "before")  # adding works on a loaded model: no refit
    assert isinstance(model, HybridRecommender) and isinstance(model, SupportsAddItems)
    n_before = model.n_items
    report = model.add_items(
        pd.DataFrame(
            {
                "item_id": ["nebula", "love0"],
                "title": ["Rocket war among distant stars", "A love story in Rome, part 0"],
                "genres": ["Sci-Fi|Action", "Romance|Drama"],
            }
        )
    )
    assert report.added == ["nebula"] and report.updated == ["love0"]
    assert model.n_items == n_before + 1 and model.history_.shape[1] == n_before + 1  # type: ignore
    assert not model.has_id_[-1]  # type: ignore[index]
    recs = model.recommend(Query(user_id="space-fan1", candidates=["nebula", "love8"], k=1))
    assert recs.item_ids == ["nebula"]
    # free text only (as the service sends it) is embedded too
    model.add_items(pd.DataFrame({"item_id": ["spook"], "text": ["Ghosts haunt an old house"]}))
    recs = model.recommend(Query(user_id="ghost-fan2", candidates=["spook", "nebula"], k=1))
    assert recs.item_ids == ["spook"]
    model.save(tmp_path / "after")
    loaded = load_model(tmp_path / "after")
    np.testing.assert_array_equal(loaded.score_users(np.arange(3)), model.score_users(np.arange(3)))


def test_scores_are_inner_products_for_item_indexes(
    tastes: tuple[HybridRecommender, dict[str, str]],
) -> None:
    model, _ = tastes
    assert isinstance(model, InnerProduct)
    assert model.item_factors().shape == (model.n_items, 17)
    users = np.arange(model.n_users)
    np.testing.assert_allclose(
        model.user_vectors(users) @ model.item_factors().T, model.score_users(users), rtol=1e-5
    )


def test_toy_cold_item_is_scored_through_text(minilm: TextEncoder) -> None:
    model = HybridRecommender(FAST).fit(blocks().train)
    cold = model.item_map.index_of(COLD_ITEM)  # type: ignore[union-attr]
    assert np.isfinite(model.score_users(np.arange(3))[:, cold]).all()


def test_item_without_text_or_interactions_is_not_scored(minilm: TextEncoder) -> None:
    data, _ = taste_data(n_users=3, n_items=3)
    model = HybridRecommender(FAST, epochs=2).fit(data)
    model.add_items(pd.DataFrame({"item_id": ["blank"], "title": [None]}))
    assert np.isnan(model.score(Query(user_id="space-fan0"))[-1])
    assert "blank" not in model.recommend(Query(user_id="space-fan0", k=100)).item_ids


def test_user_attribute_text(minilm: TextEncoder) -> None:
    data, _ = taste_data(n_users=4, n_items=3)
    users = pd.DataFrame({"user_id": data.user_map.ids, "occupation": "astronaut"})
    frame = data.to_frame()
    with_users = from_frame(frame, items=data.items, users=users)
    model = HybridRecommender(FAST, epochs=3, user_text=True).fit(with_users)
    assert model.user_factors_.shape == (with_users.n_users, 17)  # type: ignore[union-attr]
    assert np.isfinite(model.score_users(np.arange(with_users.n_users))).all()


def test_needs_item_text(minilm: TextEncoder) -> None:
    data = from_frame(pd.DataFrame({"user_id": ["a"], "item_id": ["x"]}))
    with pytest.raises(DataError, match="item table"):
        HybridRecommender(FAST).fit(data)


def test_encode_query_lands_in_the_item_text_space(
    tastes: tuple[HybridRecommender, dict[str, str]],
) -> None:
    model, _ = tastes
    query = model.encode_query(["ghosts in a haunted house"])[0]
    sims = model.text_vectors() @ query  # type: ignore[operator]
    assert model.item_map.ids[int(np.argmax(sims))].startswith("ghost")  # type: ignore
