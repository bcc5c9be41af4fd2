"""lmrec.search as a library function (the CLI and the service share it)."""

from __future__ import annotations

import numpy as np
import pytest
from serving_toys import ToyText, toy_dataset

from lmrec.errors import UnsupportedError
from lmrec.models.baseline.popularity import PopularityRecommender
from lmrec.search import encode_queries, search, supports_text_search


@pytest.fixture(scope="module")
def text_model() -> ToyText:
    return ToyText().fit(toy_dataset())


def test_search_ranks_by_cosine(text_model: ToyText) -> None:
    recs = search(text_model, "space battle", k=2)
    assert recs.item_ids[0] == "i3"
    assert recs.scores[0] == pytest.approx(2 / np.sqrt(2 * 3), rel=1e-5)  # 2 of 3 words


def test_search_exclusions_and_mask(text_model: ToyText) -> None:
    assert "i3" not in search(text_model, "space battle", k=6, exclude=["i3"]).item_ids
    allowed = np.array([False, False, False, True, False, True])
    assert set(search(text_model, "comedy", k=6, allowed=allowed).item_ids) == {"i4", "i6"}


def test_history_leans_the_order(text_model: ToyText) -> None:
    plain = search(text_model, "comedy", k=3)
    leaning = search(text_model, "comedy", k=3, history=["i3"])  # an action fan
    by_words = dict(zip(plain.item_ids, plain.scores, strict=True))
    assert by_words["i1"] == pytest.approx(by_words["i5"])  # tied on the words alone
    leant = dict(zip(leaning.item_ids, leaning.scores, strict=True))
    assert leaning.item_ids[0] == "i5" and leant["i5"] > leant.get("i1", -1.0)


def test_models_that_cannot_embed_text(text_model: ToyText) -> None:
    pop = PopularityRecommender().fit(toy_dataset())
    assert supports_text_search(text_model) and not supports_text_search(pop)
    with pytest.raises(UnsupportedError, match="cannot embed text"):
        encode_queries(pop, ["x"])
    with pytest.raises(UnsupportedError, match="empty"):
        search(text_model, "  ")
