"""Search and new items with the real content model (pretrained MiniLM, offline)."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serving_toys import AUTH, READ_AUTH, make_settings, toy_dataset

from lmrec.models.registry import create_model
from lmrec.serving.app import create_app
from lmrec.store.registry import ModelRegistry

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def content_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("sentence_transformers")
    reg = ModelRegistry(tmp_path_factory.mktemp("content") / "registry")
    reg.register(create_model("content", {"use_cache": False}).fit(toy_dataset()), "content")
    return reg.root


def test_search_and_new_items_with_the_content_model(
    content_registry: Path, tmp_path: Path
) -> None:
    settings = make_settings(
        content_registry, f"sqlite:///{tmp_path}/e.db", default_model="content"
    )
    with TestClient(create_app(settings), headers=READ_AUTH) as client:
        r = client.post("/v1/search", json={"query": "outer space fight", "k": 2})
        assert r.status_code == 200, r.text
        assert r.json()["items"][0]["item_id"] == "i3" and r.json()["model"] == "content"
        r = client.post(
            "/v1/items",
            json=[{"item_id": "i7", "text": "zombie apocalypse survival", "attributes": {}}],
            headers=AUTH,
        )
        assert r.json()["models"] == {"content": "added"}
        r = client.post("/v1/search", json={"query": "undead zombies", "k": 1})
        assert r.json()["items"][0]["item_id"] == "i7"
        # a new user who liked the haunted house gets a recommendation from text alone
        r = client.post("/v1/recommendations", json={"history": ["i6"], "k": 6})
        assert r.status_code == 200 and "i7" in [i["item_id"] for i in r.json()["items"]]
