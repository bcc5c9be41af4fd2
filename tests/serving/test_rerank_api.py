"""rerank= on the recommendation routes: MMR and calibrated lists over HTTP, the same as
the library gives, and 422 problems for a bad spec or a catalogue without what it needs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serving_toys import READ_AUTH, make_settings
from test_validation import problem_of

from lmrec.core.query import Query
from lmrec.core.rerank import RerankSpec
from lmrec.data.dataset import from_frame
from lmrec.data.synthetic import generate
from lmrec.models.artifacts import load_model
from lmrec.models.registry import create_model
from lmrec.models.reranking import history_indices, rerank_list, reranker_for
from lmrec.store.registry import ModelRegistry


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ease (items with titles and genres) as the default model; bare: pop without items."""
    data = generate(n_users=60, n_items=50, n_interactions=1500, seed=4)
    reg = ModelRegistry(tmp_path_factory.mktemp("rerank") / "registry")
    reg.register(create_model("ease", {"reg": 50}).fit(data), "ease")
    bare = from_frame(data.to_frame()[["user_id", "item_id"]])
    reg.register(create_model("pop").fit(bare), "bare")
    return reg.root


@pytest.fixture(scope="module")
def client(registry: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from lmrec.serving.app import create_app

    db = f"sqlite:///{tmp_path_factory.mktemp('db') / 'events.db'}"
    settings = make_settings(registry, db, default_model="ease")
    with TestClient(create_app(settings), headers=READ_AUTH) as c:
        yield c


def _items(r) -> list[str]:  # type: ignore[no-untyped-def]
    assert r.status_code == 200, r.text
    return [item["item_id"] for item in r.json()["items"]]


def _expected(registry: Path, user: str, spec: str, k: int) -> list[str]:
    """The list the library re-ranks for `user` (the model's top 100, then the re-ranker)."""
    reg = ModelRegistry(registry)
    model = load_model(reg.version_path("ease", reg.live_version("ease") or "1"))
    recs = model.recommend(Query(user_id=user, k=100))
    reranker = reranker_for(model, RerankSpec.parse(spec))
    ids, _ = rerank_list(
        model, reranker, recs.item_ids, recs.scores, k, history_indices(model, user)
    )
    return ids


@pytest.mark.parametrize("spec", ["calibrated:0.8", "mmr:0.3"])
def test_get_reranks_like_the_library(client: TestClient, registry: Path, spec: str) -> None:
    url = "/v1/users/7/recommendations"
    plain = _items(client.get(url, params={"k": 6}))
    reranked = _items(client.get(url, params={"k": 6, "rerank": spec}))
    assert reranked == _expected(registry, "7", spec, 6)
    assert reranked != plain and len(reranked) == 6
    # the neutral lambda of each method keeps the model's own list
    neutral = "calibrated:0" if spec.startswith("calibrated") else "mmr:1"
    assert _items(client.get(url, params={"k": 6, "rerank": neutral})) == plain


def test_post_and_batch_rerank_the_same_way(client: TestClient, registry: Path) -> None:
    body = {"user_id": "7", "k": 5, "rerank": "calibrated:0.8"}
    single = _items(client.post("/v1/recommendations", json=body))
    assert single == _expected(registry, "7", "calibrated:0.8", 5)
    r = client.post(
        "/v1/recommendations/batch",
        json={"user_ids": ["7", "9"], "k": 5, "rerank": "calibrated:0.8"},
    )
    assert r.status_code == 200, r.text
    lists = [[i["item_id"] for i in res["items"]] for res in r.json()["results"]]
    assert lists == [single, _expected(registry, "9", "calibrated:0.8", 5)]


def test_a_new_users_history_is_reranked(client: TestClient) -> None:
    body = {"history": ["1", "2", "3"], "k": 5, "rerank": "calibrated:1"}
    items = _items(client.post("/v1/recommendations", json=body))
    assert len(items) == 5 and not {"1", "2", "3"} & set(items)


@pytest.mark.parametrize("spec", ["mmr:2", "diverse:0.5", "calibrated:x", "x" * 100])
def test_a_bad_spec_is_422_naming_rerank(client: TestClient, spec: str) -> None:
    r = client.get("/v1/users/7/recommendations", params={"rerank": spec})
    assert r.status_code == 422
    assert "rerank" in problem_of(r)["detail"]
    r = client.post("/v1/recommendations", json={"user_id": "7", "rerank": spec})
    assert r.status_code == 422
    assert "rerank" in problem_of(r)["detail"]


@pytest.mark.parametrize(
    ("spec", "message"),
    [("calibrated:0.5", "needs item genres"), ("mmr:0.5", "the items have no text to embed")],
)
def test_a_catalogue_without_genres_or_text_is_422(
    client: TestClient, spec: str, message: str
) -> None:
    r = client.get("/v1/users/7/recommendations", params={"model": "bare", "rerank": spec})
    assert r.status_code == 422
    assert message in problem_of(r)["detail"]
