"""Query vectors for search: cached by text, encoded together when they arrive during
another encoding, on the configured backend."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient
from serving_toys import READ_AUTH, make_settings

from lmrec.serving.app import create_app
from lmrec.serving.query_vectors import _Batcher, _on_backend


def test_a_repeated_query_is_served_from_the_cache(client: TestClient) -> None:
    body = {"query": "space action", "model": "text"}
    first = client.post("/v1/search", json=body).json()
    second = client.post("/v1/search", json=body).json()
    assert first["items"] == second["items"] and first["items"]
    vectors = client.app.state.ctx.query_vectors  # type: ignore[attr-defined]
    assert (vectors.misses, vectors.hits) == (1, 1)
    client.post("/v1/search", json={"query": "haunted house", "model": "text"})
    assert vectors.misses == 2


def test_the_cache_can_be_turned_off(registry_dir: Path, tmp_path: Path) -> None:
    settings = make_settings(registry_dir, f"sqlite:///{tmp_path / 'e.db'}", query_cache_size=0)
    with TestClient(create_app(settings), headers=READ_AUTH) as c:
        for _ in range(2):
            assert (
                c.post("/v1/search", json={"query": "comedy", "model": "text"}).status_code == 200
            )
        vectors = c.app.state.ctx.query_vectors  # type: ignore[attr-defined]
        assert (vectors.misses, vectors.hits) == (2, 0)


def test_queries_arriving_during_an_encoding_go_together_in_the_next() -> None:
    release = threading.Event()
    calls: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        if len(calls) == 1:
            release.wait(30)  # the first pass is slow; the others queue meanwhile
        return np.array([[float(len(t))] for t in texts])

    batcher = _Batcher(encode)
    answers: dict[str, float] = {}

    def ask(text: str) -> None:
        answers[text] = float(batcher.vector(text)[0])

    first = threading.Thread(target=ask, args=("a",))
    first.start()
    while not calls:
        time.sleep(0.01)
    others = [threading.Thread(target=ask, args=(t,)) for t in ("bb", "ccc", "dddd")]
    for t in others:
        t.start()
    while len(batcher.queue) < 3:
        time.sleep(0.01)
    release.set()
    for t in [first, *others]:
        t.join(30)
    assert calls[0] == ["a"] and sorted(calls[1]) == ["bb", "ccc", "dddd"]
    assert batcher.passes == [1, 3]
    assert answers == {"a": 1.0, "bb": 2.0, "ccc": 3.0, "dddd": 4.0}
    assert not batcher.busy


def test_an_encoding_error_reaches_every_waiting_query() -> None:
    def encode(texts: list[str]) -> np.ndarray:
        raise RuntimeError("encoder failed")

    batcher = _Batcher(encode)
    try:
        batcher.vector("x")
    except RuntimeError as exc:
        assert "encoder failed" in str(exc)
    else:
        raise AssertionError("the error was swallowed")
    assert not batcher.busy  # the next query runs a pass again


def test_the_backend_swap_leaves_the_served_model_alone(client: TestClient) -> None:
    live = client.app.state.ctx.hub.get("text")  # type: ignore[attr-defined]
    swapped = _on_backend(live.model, "onnx-int8")
    assert swapped.options.text_backend == "onnx-int8"
    assert live.model.options.text_backend is None and swapped is not live.model
    assert _on_backend(live.model, "model") is live.model
