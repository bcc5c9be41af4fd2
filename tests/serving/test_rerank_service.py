"""A `rerank` model behind the service: recommendations ordered by its click model, and
explanations that say what the ranker fell back on (no user attributes, no item text)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from serving_toys import AUTH, make_settings

from lmrec.models.registry import create_model
from lmrec.store.registry import ModelRegistry
from lmrec.testing import blocks

CONFIG = {
    "retriever": "ease",
    "retriever_config": {"reg": 1.0},
    "ranker": "ctr",
    "candidates": 20,
    "ranker_holdout": 0.15,
    "ranker_split": "latest",
    "dim": 8,
    "hidden": (16,),
    "epochs": 10,
    "batch_size": 64,
    "lr": 0.01,
    "threads": 1,
}


@pytest.fixture(scope="module")
def rerank_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from lmrec.serving.app import create_app

    root = tmp_path_factory.mktemp("rerank-service")
    data = blocks()
    items = data.train.items
    assert items is not None
    registry = ModelRegistry(root / "registry")
    registry.register(create_model("rerank", CONFIG).fit(data.train), "rerank")
    settings = make_settings(
        registry.root, f"sqlite:///{root / 'events.db'}", default_model="rerank"
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_recommendations_come_from_the_ranker(rerank_client: TestClient) -> None:
    r = rerank_client.get("/v1/users/u0/recommendations", params={"k": 3}, headers=AUTH)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["model"] == "rerank"
    ids = [i["item_id"] for i in body["items"]]
    assert ids[0] == "i0"  # u0's held-out item, as the block structure demands
    scores = [i["score"] for i in body["items"]]
    assert scores == sorted(scores, reverse=True)


def test_explanations_name_the_fallbacks(rerank_client: TestClient) -> None:
    r = rerank_client.get(
        "/v1/users/u0/recommendations", params={"k": 2, "explain": "true"}, headers=AUTH
    )
    assert r.status_code == 200, r.text
    for item in r.json()["items"]:
        notes = item["explanation"]["notes"]
        # the toy users have no age, gender or occupation; every toy item has text
        assert any("no user attributes" in n for n in notes)
        assert not any("no text" in n for n in notes)


def test_new_history_is_folded_in_and_bad_input_is_a_4xx(rerank_client: TestClient) -> None:
    r = rerank_client.post(
        "/v1/recommendations", json={"history": ["i1", "i2", "i3"], "k": 4}, headers=AUTH
    )
    assert r.status_code == 200, r.text
    ids = [i["item_id"] for i in r.json()["items"]]
    assert len(ids) == 4 and not {"i1", "i2", "i3"} & set(ids)
    bad = rerank_client.post("/v1/recommendations", json={"history": ["nope"]}, headers=AUTH)
    assert 400 <= bad.status_code < 500
    assert bad.headers["content-type"].startswith("application/problem+json")
