"""The `llm` ranker of `rerank`: SmolLM2 scores each candidate's title after the user's
recent titles. The shared contract; re-ranking permutes the retriever's candidates by the
language model's scores; scores are cached; what it cannot read keeps the retriever's
order and is named."""

from typing import Any, ClassVar

import numpy as np
import pytest

from lmrec.core.query import Query
from lmrec.data.dataset import from_frame
from lmrec.encoders import small_lm
from lmrec.encoders.small_lm import SmallLM
from lmrec.errors import ConfigError
from lmrec.models.capabilities import PredictsClicks
from lmrec.models.ranking.rerank import RerankRecommender
from lmrec.models.registry import create_model
from lmrec.testing import RecommenderContract, blocks

# a marker, not a module-level skip: the contract coverage test imports this module too
pytestmark = pytest.mark.skipif(not small_lm.installed(), reason="the llm extra is not installed")

#: few candidates and a short history: every uncached score runs the language model
LLM: dict[str, Any] = {
    "retriever": "ease",
    "retriever_config": {"reg": 1.0},
    "candidates": 3,
    "ranker": "llm",
    "llm_history": 3,
    "llm_batch_size": 4,
    "threads": 1,
}


class TestRerankLlm(RecommenderContract):
    model_name = "rerank"
    model_config: ClassVar[dict[str, Any]] = LLM
    # the language model does not know the toy's blocks; re-ranking three candidates must
    # lose none of the retriever's hits
    quality_exact = False


def test_it_reorders_the_retrievers_candidates_by_the_language_model() -> None:
    data = blocks()
    model = create_model("rerank", {**LLM, "candidates": 6}).fit(data.train)
    assert isinstance(model, RerankRecommender)
    assert model.retriever_ is not None and model.llm_ is not None
    assert not isinstance(model, PredictsClicks)  # log-likelihoods are no click chances
    changed = 0
    for user in data.train.user_map.ids[:6]:
        mine = model.recommend(user, k=6).item_ids
        theirs = model.retriever_.recommend(user, k=6).item_ids
        assert sorted(mine) == sorted(theirs)  # the same candidates, re-ordered
        changed += mine != theirs
        # in the language model's order: the mean log-probability of each title
        idx = model.user_map.index_of(user)
        history = [model._item_texts[i - 1] for i in model.user_recent_[idx] if i > 0]
        titles = [model._item_texts[model.item_map.index_of(i)] for i in mine]
        scores = model.llm_.scores(history, titles)
        assert list(scores) == sorted(scores, reverse=True)
    assert changed > 0


def test_scores_are_cached_so_a_second_pass_runs_no_model() -> None:
    import scipy.sparse as sp

    data = blocks()
    model = create_model("rerank", LLM).fit(data.train)
    lm = SmallLM.shared("cpu")
    # histories no other test scores: each row is a new prompt
    rows = sp.csr_matrix(([1.0] * 4, ([0, 0, 1, 1], [3, 17, 5, 20])), shape=(2, data.train.n_items))
    calls = lm.forward_calls
    first = model.score_histories(rows)
    assert lm.forward_calls >= calls + 2  # a prompt pass per history, at least
    calls = lm.forward_calls
    again = model.score_histories(rows)
    assert lm.forward_calls == calls
    np.testing.assert_array_equal(first, again)


def _without_title(item: str) -> Any:
    data = blocks()
    items = data.train.items.copy()
    items["title"] = items["title"].astype(object)
    items.loc[items["item_id"] == item, "title"] = None
    return from_frame(data.train.to_frame(), items=items, name="toy-one-without-title")


def test_users_and_items_without_titles_keep_the_retriever_order() -> None:
    train = _without_title(blocks().train.item_map.ids[0])
    silent = train.item_map.ids[0]
    model = create_model("rerank", LLM).fit(train)
    assert isinstance(model, RerankRecommender) and model.retriever_ is not None
    query = Query(history=[silent], k=LLM["candidates"])
    assert model.recommend(query).item_ids == model.retriever_.recommend(query).item_ids
    notes = model.ranking_notes(train.user_map.ids[0], [silent, train.item_map.ids[1]])
    assert any("no title for this item" in n for n in notes[0])
    assert notes[1] == []
    assert any("no recent items" in n for n in model.ranking_notes("nobody", [silent])[0])


def test_without_the_extra_the_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from importlib import metadata

    def missing(name: str) -> Any:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", missing)
    monkeypatch.setattr(small_lm, "_shared", {})
    with pytest.raises(ConfigError, match=r"lmrec\[llm\]"):
        create_model("rerank", LLM).fit(blocks().train)


def test_signals_are_refused_with_the_llm_ranker() -> None:
    with pytest.raises(ConfigError, match="llm ranker reads text only"):
        create_model("rerank", {**LLM, "signals": ["als"]})


def test_a_zero_mix_keeps_the_retriever_order_and_a_half_mix_moves_less() -> None:
    data = blocks()
    users = data.train.user_map.ids[:6]
    lists = {}
    for mix in (0.0, 0.5, 1.0):
        model = create_model("rerank", {**LLM, "candidates": 6, "llm_mix": mix})
        model.fit(data.train)
        assert isinstance(model, RerankRecommender) and model.retriever_ is not None
        lists[mix] = [model.recommend(u, k=6).item_ids for u in users]
        if mix == 0.0:
            assert lists[mix] == [model.retriever_.recommend(u, k=6).item_ids for u in users]

    def moved(a: list[list[str]], b: list[list[str]]) -> int:
        return sum(x != y for la, lb in zip(a, b, strict=True) for x, y in zip(la, lb, strict=True))

    assert moved(lists[0.0], lists[0.5]) <= moved(lists[0.0], lists[1.0])
