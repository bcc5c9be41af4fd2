from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest

from lmrec.core.query import Query
from lmrec.data.dataset import from_frame
from lmrec.encoders import TextEncoder, normalize_rows
from lmrec.errors import DataError
from lmrec.explain.profile import explain_user_profile
from lmrec.models.artifacts import load_model
from lmrec.models.capabilities import SupportsAddItems
from lmrec.models.text.content import ContentRecommender
from lmrec.testing import RecommenderContract, blocks
from lmrec.testing.toy import COLD_ITEM


class TestContent(RecommenderContract):
    model_name = "content"
    # the real MiniLM; no disk cache so the contract leaves nothing behind
    model_config: ClassVar[dict[str, Any]] = {"use_cache": False}
    fold_in_matches_known = True


MOVIES = pd.DataFrame(
    {
        "item_id": ["toy", "lion", "schindler", "private", "aladdin"],
        "title": [
            "Toy Story",
            "The Lion King",
            "Schindler's List",
            "Saving Private Ryan",
            "Aladdin",
        ],
        "year": [1995, 1994, 1993, 1998, 1992],
        "genres": [
            "Animation|Children's|Comedy",
            "Animation|Children's|Musical",
            "Drama|War",
            "Action|Drama|War",
            "Animation|Children's|Comedy|Musical",
        ],
    }
)


def movie_data() -> Any:
    log = pd.DataFrame(
        {
            "user_id": ["kid", "kid", "vet", "vet"],
            "item_id": ["toy", "lion", "schindler", "private"],
            "timestamp": [100, 200, 100, 200],
        }
    )
    users = pd.DataFrame(
        {"user_id": ["kid", "vet", "newbie"], "occupation": ["student", "veteran", "animator"]}
    )
    return from_frame(log, items=MOVIES, users=users)


@pytest.fixture
def cache_dir(tmp_path: Path) -> str:
    return str(tmp_path / "cache")


def test_recommends_by_meaning_and_scores_untouched_items(minilm: TextEncoder) -> None:
    model = ContentRecommender(use_cache=False).fit(movie_data())
    # nobody watched Aladdin: it is scored from its text, and suits the kid
    assert model.recommend("kid", k=1).item_ids == ["aladdin"]
    scores = model.score(Query(user_id="vet"))
    assert np.isfinite(scores).all()
    assert model.recommend(Query(history=["private"], k=1)).item_ids == ["schindler"]
    assert model.recommend(Query(history=["toy", "lion"], k=1)).item_ids == ["aladdin"]


def test_toy_cold_item_has_a_score(minilm: TextEncoder) -> None:
    toy = blocks()
    model = ContentRecommender(use_cache=False).fit(toy.train)
    cold = model.item_map.index_of(COLD_ITEM)  # type: ignore[union-attr]
    assert np.isfinite(model.score_users(np.arange(3))[:, cold]).all()


def test_cache_makes_the_second_fit_encode_nothing(minilm: TextEncoder, cache_dir: str) -> None:
    data = movie_data()
    first = ContentRecommender(encoder={"cache_dir": cache_dir}).fit(data)
    assert (first.encode_stats.hits, first.encode_stats.misses) == (0, 5)
    second = ContentRecommender(encoder={"cache_dir": cache_dir}).fit(data)
    assert (second.encode_stats.hits, second.encode_stats.misses) == (5, 0)
    np.testing.assert_array_equal(second.item_embeddings_, first.item_embeddings_)


def test_add_items_makes_new_items_recommendable(minilm: TextEncoder, tmp_path: Path) -> None:
    model = ContentRecommender(use_cache=False).fit(movie_data())
    assert isinstance(model, SupportsAddItems)
    new = pd.DataFrame(
        {
            "item_id": ["nemo", "toy"],
            "title": ["Finding Nemo", "Toy Story"],
            "year": [2003, None],  # None keeps the year the catalogue had
            "genres": ["Animation|Children's|Comedy", None],
        }
    )
    report = model.add_items(new)
    assert report.added == ["nemo"] and report.updated == ["toy"]
    assert model.n_items == 6 and model.item_embeddings_.shape == (6, 384)  # type: ignore
    assert model.history_.shape == (3, 6)  # type: ignore[union-attr]
    assert model.items.set_index("item_id").loc["toy", "year"] == 1995  # type: ignore
    top2 = model.recommend("kid", k=2).item_ids
    assert set(top2) == {"aladdin", "nemo"}
    # a row with only free text (as the service sends) is embedded from that text
    model.add_items(pd.DataFrame({"item_id": ["doc"], "text": ["A war documentary"]}))
    top2 = model.recommend(Query(history=["private"], k=2)).item_ids
    assert set(top2) == {"doc", "schindler"}
    assert np.isfinite(model.score(Query(user_id="vet"))).all()
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert loaded.recommend("kid", k=3) == model.recommend("kid", k=3)


def test_add_items_needs_ids(minilm: TextEncoder) -> None:
    model = ContentRecommender(use_cache=False).fit(movie_data())
    with pytest.raises(DataError, match="item_id"):
        model.add_items(pd.DataFrame({"title": ["X"]}))


def test_user_attributes_give_cold_users_a_profile(minilm: TextEncoder, tmp_path: Path) -> None:
    model = ContentRecommender(use_cache=False, user_text_weight=0.5).fit(movie_data())
    # "newbie" has no history, only the attribute text "animator"
    scores = model.score(Query(user_id="newbie"))
    assert np.isfinite(scores).all()
    best = model.recommend("newbie", k=1).item_ids[0]
    assert best in {"toy", "lion", "aladdin"}
    plain = ContentRecommender(use_cache=False).fit(movie_data())
    assert np.isnan(plain.score(Query(user_id="newbie"))).all()
    explanation = explain_user_profile(model, "vet")
    assert explanation.user_text == "veteran" and explanation.user_text_weight == 0.5
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.score_users(np.arange(3)), model.score_users(np.arange(3)))


def test_explain_user_profile(minilm: TextEncoder) -> None:
    model = ContentRecommender(use_cache=False).fit(movie_data())
    explanation = explain_user_profile(model, "vet", k_items=5, k_terms=3)
    assert set(explanation.items["item_id"]) == {"schindler", "private"}
    assert explanation.items["share"].sum() == pytest.approx(1.0)
    assert explanation.terms["term"].iloc[0] in {"drama", "war"}
    assert set(explanation.terms["term"][:2]) == {"drama", "war"}
    assert "Schindler's List (1993)" in "\n".join(explanation.lines())


def test_needs_item_text() -> None:
    data = from_frame(pd.DataFrame({"user_id": ["a"], "item_id": ["x"]}))
    with pytest.raises(DataError, match="item table"):
        ContentRecommender(use_cache=False).fit(data)
    data = from_frame(
        pd.DataFrame({"user_id": ["a"], "item_id": ["x"]}),
        items=pd.DataFrame({"item_id": ["x"], "price": [1.0]}),
    )
    with pytest.raises(DataError, match="template"):
        ContentRecommender(use_cache=False).fit(data)


def test_encode_query_in_item_space(minilm: TextEncoder) -> None:
    model = ContentRecommender(use_cache=False).fit(movie_data())
    query = model.encode_query(["a war film"])[0]
    sims = model.item_embeddings_ @ query  # type: ignore[operator]
    assert model.item_map.ids[int(np.argmax(sims))] in {"schindler", "private"}  # type: ignore


def test_embeddings_are_centred_on_the_catalogue(minilm: TextEncoder) -> None:
    model = ContentRecommender(use_cache=False).fit(movie_data())
    texts = model.item_template.render(model.items)  # type: ignore[arg-type]
    raw = minilm.encode(texts)
    expected = normalize_rows(raw - raw.mean(axis=0))
    np.testing.assert_allclose(model.item_embeddings_, expected, atol=1e-5)  # type: ignore
    # a query lands in the same space: an item's own text finds that item's vector
    np.testing.assert_allclose(model.encode_query(texts[:1]), expected[:1], atol=1e-5)
    plain = ContentRecommender(use_cache=False, center=False).fit(movie_data())
    assert plain.embedding_mean_ is None
    np.testing.assert_allclose(plain.item_embeddings_, raw, atol=1e-5)  # type: ignore
