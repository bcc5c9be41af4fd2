from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from lmrec.core.query import Query
from lmrec.data.dataset import from_frame
from lmrec.explain.profile import explain_user_profile
from lmrec.models.artifacts import load_model
from lmrec.models.text.tfidf import TfidfRecommender
from lmrec.testing import RecommenderContract


class TestTfidf(RecommenderContract):
    model_name = "tfidf"
    fold_in_matches_known = True


ITEMS = pd.DataFrame(
    {
        "item_id": ["a", "b", "c", "d"],
        "title": ["Space war", "Space opera", "Love story", "Love letters"],
        "genres": ["Sci-Fi", "Sci-Fi|Drama", "Romance", "Romance|Drama"],
    }
)


def data() -> object:
    log = pd.DataFrame({"user_id": ["u", "v"], "item_id": ["a", "c"]})
    return from_frame(log, items=ITEMS)


def test_item_vectors_are_scikit_learn_tfidf() -> None:
    model = TfidfRecommender(template="{title}[. {genres}]").fit(data())  # type: ignore[arg-type]
    texts = model.item_template.render(model.items)  # type: ignore[arg-type]
    assert texts[model.item_map.index_of("b")] == "Space opera. Sci-Fi, Drama"  # type: ignore
    expected = TfidfVectorizer(sublinear_tf=True, stop_words="english").fit_transform(texts)
    np.testing.assert_allclose(model.item_matrix_.toarray(), expected.toarray(), rtol=1e-6)  # type: ignore[union-attr]
    assert list(model.vocabulary_) == list(  # type: ignore[arg-type]
        TfidfVectorizer(stop_words="english").fit(texts).get_feature_names_out()
    )


def test_recommends_the_item_sharing_words() -> None:
    model = TfidfRecommender().fit(data())  # type: ignore[arg-type]
    assert model.recommend("u", k=1).item_ids == ["b"]
    assert model.recommend("v", k=1).item_ids == ["d"]
    assert model.recommend(Query(history=["b"], k=1)).item_ids == ["a"]
    assert model.similar_items("c", k=1).item_ids == ["d"]


def test_add_items_after_load_needs_no_refit(tmp_path: Path) -> None:
    model = TfidfRecommender().fit(data())  # type: ignore[arg-type]
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, TfidfRecommender)
    new = pd.DataFrame({"item_id": ["e", "f"], "title": ["Space pirates", "Zzz qqq"]})
    report = loaded.add_items(new)
    assert report.added == ["e", "f"]
    assert report.without_text == []
    assert loaded.recommend("u", k=2).item_ids == ["b", "e"]
    # no known word: the item has a zero vector and scores 0
    f = loaded.item_map.index_of("f")  # type: ignore[union-attr]
    assert loaded.item_matrix_[f].nnz == 0  # type: ignore[index]
    assert loaded.score(Query(user_id="u"))[f] == 0.0
    # the same rows on the fitted model give the same vectors as after loading
    model.add_items(new)
    np.testing.assert_allclose(
        model.item_matrix_.toarray(),  # type: ignore[union-attr]
        loaded.item_matrix_.toarray(),  # type: ignore[union-attr]
    )


def test_items_without_text_cannot_be_scored() -> None:
    items = pd.concat([ITEMS, pd.DataFrame({"item_id": ["blank"], "title": [None]})])
    log = pd.DataFrame({"user_id": ["u"], "item_id": ["a"]})
    model = TfidfRecommender().fit(from_frame(log, items=items))
    blank = model.item_map.index_of("blank")  # type: ignore[union-attr]
    assert np.isnan(model.score_users(np.array([0]))[0, blank])
    assert "blank" not in model.recommend("u", k=10).item_ids


def test_explain_terms() -> None:
    model = TfidfRecommender().fit(data())  # type: ignore[arg-type]
    explanation = explain_user_profile(model, history=["a", "b"], k_terms=2)
    assert explanation.user_id is None and explanation.n_items == 2
    # genres count as whole terms; "space" and "sci-fi" are in both items
    assert set(explanation.terms["term"]) == {"space", "sci-fi"}
    assert explanation.items["share"].sum() == pytest.approx(1.0)
