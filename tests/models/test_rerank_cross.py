"""The `cross-encoder` ranker of `rerank`: MiniLM trained on (recent titles, candidate
text) pairs; the shared contract, training moves the scores, fallbacks keep the
retriever's order and are named."""

from typing import Any, ClassVar

import numpy as np
import pytest

from lmrec.core.query import Query
from lmrec.data.dataset import from_frame
from lmrec.errors import DataError
from lmrec.models.ranking.cross_ranker import CrossRanker, fill_in_retriever_order
from lmrec.models.ranking.rerank import RerankRecommender
from lmrec.models.registry import create_model
from lmrec.testing import RecommenderContract, blocks
from lmrec.training.device import seed_everything

#: tiny and quick: a few dozen pairs of 32 tokens, one epoch (toy: 24 users, 25 items)
CROSS: dict[str, Any] = {
    "retriever": "ease",
    "retriever_config": {"reg": 1.0},
    "candidates": 12,
    "ranker_holdout": 0.15,
    "ranker_split": "latest",
    "ranker": "cross-encoder",
    "cross_pairs": 32,
    "cross_history": 3,
    "cross_max_tokens": 32,
    "cross_batch_size": 16,
    "cross_lr": 1e-4,
    "threads": 1,
}


class TestRerankCrossEncoder(RecommenderContract):
    model_name = "rerank"
    # three candidates keep the contract quick (every score call runs the transformer);
    # the quality check then asks that re-ranking loses none of the retriever's hits
    model_config: ClassVar[dict[str, Any]] = {**CROSS, "candidates": 3, "cross_pairs": 24}
    stochastic = True
    quality_exact = False


def test_training_moves_the_scores_and_clicks_are_chances() -> None:
    data = blocks()
    model = create_model("rerank", CROSS).fit(data.train)
    assert isinstance(model, RerankRecommender) and model.cross_ is not None
    seed_everything(model.config.seed)  # the same fresh head the training started from
    fresh = CrossRanker.from_minilm(32, "cpu")
    pairs = [("Alpha film 1 | Alpha film 2", "Alpha film 3"), ("Beta film 1", "Gamma film 4")]
    trained = model.cross_.logits(pairs, 8, 1)
    assert np.isfinite(trained).all()
    assert not np.allclose(trained, fresh.logits(pairs, 8, 1), atol=1e-3)
    # click chances (what the click metrics read): in (0, 1), NaN for no item
    users = np.arange(4)
    items = np.array([[0, 1, -1], [2, 3, 4], [5, -1, -1], [6, 7, 8]])
    probs = model.click_probabilities(users, items, data.train.csr[users])
    assert np.isnan(probs[items < 0]).all()
    assert ((probs[items >= 0] > 0) & (probs[items >= 0] < 1)).all()


def _without_text(item: str) -> Any:
    """The toy data where `item` has no text in the item table."""
    data = blocks()
    items = data.train.items.copy()
    text_columns = [c for c in items.columns if c != "item_id"]
    items[text_columns] = items[text_columns].astype(object)
    items.loc[items["item_id"] == item, text_columns] = None
    return from_frame(data.train.to_frame(), items=items, name="toy-one-without-text")


def test_users_and_items_without_text_keep_the_retriever_order() -> None:
    train = _without_text(blocks().train.item_map.ids[0])
    silent = train.item_map.ids[0]
    model = create_model("rerank", CROSS).fit(train)
    assert isinstance(model, RerankRecommender) and model.retriever_ is not None
    # a history of only the text-less item: nothing to read, the retriever's order stands
    query = Query(history=[silent], k=CROSS["candidates"])
    assert model.recommend(query).item_ids == model.retriever_.recommend(query).item_ids
    # and the explanation says why, for the item and for a user without history
    user = train.user_map.ids[0]
    notes = model.ranking_notes(user, [silent, train.item_map.ids[1]])
    assert any("no text for this item" in n for n in notes[0])
    assert notes[1] == []
    assert any("no recent items" in n for n in model.ranking_notes("nobody", [silent])[0])


def test_unread_candidates_sit_right_after_their_retriever_predecessor() -> None:
    grid = np.array([[np.nan, 2.0, np.nan, 5.0], [np.nan, np.nan, np.nan, np.nan]])
    filled = fill_in_retriever_order(grid)
    first = list(np.argsort(-filled[0], kind="stable"))
    assert first.index(2) == first.index(1) + 1  # stays after item 1
    assert first[0] == 0 or first.index(0) < first.index(1)  # ahead of what followed it
    assert list(np.argsort(-filled[1], kind="stable")) == [0, 1, 2, 3]


def test_a_frame_without_an_item_table_is_a_clear_error() -> None:
    train = from_frame(blocks().train.to_frame(), name="toy-no-items")
    with pytest.raises(DataError, match="need text"):
        create_model("rerank", CROSS).fit(train)
