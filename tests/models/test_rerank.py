"""Two-stage ranking (`rerank`): the shared contract, training pairs from the retriever's
candidates, user attributes read when present, fallbacks named, the retriever saved."""

from typing import Any, ClassVar

from lmrec.testing import RecommenderContract

#: small and quick: the toy data has 24 users and 25 items
FAST: dict[str, Any] = {
    "retriever": "ease",
    "retriever_config": {"reg": 1.0},
    "candidates": 20,
    "ranker_holdout": 0.15,
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
