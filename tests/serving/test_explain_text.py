"""`explain=true&style=text`: one sentence per item from the small language model,
naming the history item the template explanation puts first; cached, so a repeated
request generates nothing; a bad style is a 4xx naming the field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from serving_toys import AUTH, make_settings

from lmrec.encoders import small_lm
from lmrec.models.registry import create_model
from lmrec.store.registry import ModelRegistry
from lmrec.testing import blocks

LLM_MISSING = not small_lm.installed()
needs_llm = pytest.mark.skipif(LLM_MISSING, reason="the llm extra is not installed")
URL = "/v1/users/u0/recommendations"


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from lmrec.serving.app import create_app

    root = tmp_path_factory.mktemp("explain-text")
    registry = ModelRegistry(root / "registry")
    registry.register(create_model("ease", {"reg": 1.0}).fit(blocks().train), "ease")
    settings = make_settings(registry.root, f"sqlite:///{root / 'events.db'}", default_model="ease")
    with TestClient(create_app(settings), headers=AUTH) as c:
        yield c


def _titles() -> dict[str, str]:
    items = blocks().train.items
    assert items is not None
    return dict(zip(items["item_id"].astype(str), items["title"], strict=True))


@needs_llm
def test_each_item_gets_a_sentence_naming_what_the_template_found(client: TestClient) -> None:
    r = client.get(URL, params={"k": 3, "explain": "true", "style": "text"})
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    titles = _titles()
    texts = []
    for item in items:
        exp = item["explanation"]
        assert exp["because_of"], "the template part is still there"
        text = exp["text"]
        assert text and titles[exp["because_of"][0]["item_id"]] in text
        assert titles[item["item_id"]] in text
        texts.append(text)
    assert len(set(texts)) == len(texts)
    # the template style, the default, generates nothing and has no sentence
    lm = small_lm.SmallLM.shared("cpu")
    calls = lm.generate_calls
    plain = client.get(URL, params={"k": 3, "explain": "true"}).json()["items"]
    assert all(i["explanation"]["text"] is None for i in plain)
    # a repeated request is answered from the cache: no generation at all
    again = client.get(URL, params={"k": 3, "explain": "true", "style": "text"})
    assert [i["explanation"]["text"] for i in again.json()["items"]] == texts
    assert lm.generate_calls == calls
    # POST takes the style too, and the sentences are the same
    body = {"user_id": "u0", "k": 3, "explain": True, "style": "text"}
    posted = client.post("/v1/recommendations", json=body)
    assert posted.status_code == 200, posted.text
    assert [i["explanation"]["text"] for i in posted.json()["items"]] == texts
    assert lm.generate_calls == calls


@pytest.mark.parametrize(
    ("method", "payload", "field"),
    [
        ("get", {"k": 3, "explain": "true", "style": "poem"}, "query style"),
        ("post", {"user_id": "u0", "explain": True, "style": "poem"}, "body style"),
    ],
)
def test_a_bad_style_is_a_4xx_naming_the_field(
    client: TestClient, method: str, payload: dict[str, Any], field: str
) -> None:
    if method == "get":
        r = client.get(URL, params=payload)
    else:
        r = client.post("/v1/recommendations", json=payload)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert field in r.json()["detail"]


def test_without_the_llm_extra_text_says_what_to_install(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    from importlib import metadata

    def missing(name: str) -> Any:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", missing)
    monkeypatch.setattr(small_lm, "_shared", {})
    r = client.get(URL, params={"k": 2, "explain": "true", "style": "text"})
    assert r.status_code == 422, r.text
    assert "lmrec[llm]" in r.json()["detail"]
