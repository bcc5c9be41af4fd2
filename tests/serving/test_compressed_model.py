"""The service answers from int8 ONNX exports: SASRec's for history requests over HTTP,
known users, and problem+json for bad ones; NCF's for known users."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from serving_toys import READ_AUTH, make_settings, toy_dataset

from lmrec.core.query import Query
from lmrec.models.artifacts import load_model
from lmrec.models.compressed.export import export_model
from lmrec.models.registry import create_model
from lmrec.serving.app import create_app
from lmrec.store.registry import ModelRegistry

SMALL = {"hidden": 16, "heads": 2, "n_layers": 1, "dropout": 0.0, "epochs": 20, "threads": 1}


@pytest.fixture(scope="module")
def int8_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("compressed")
    create_model("sasrec", SMALL).fit(toy_dataset()).save(root / "sasrec")
    export_model(root / "sasrec", root / "sasrec-int8", quantize="int8", threads=1)
    reg = ModelRegistry(root / "registry")
    reg.register(root / "sasrec-int8", "seq")
    return reg.root


def test_history_requests_are_answered_by_the_int8_export(
    int8_registry: Path, tmp_path: Path
) -> None:
    settings = make_settings(int8_registry, f"sqlite:///{tmp_path}/e.db", default_model="seq")
    model = load_model(int8_registry / "seq" / "1")
    assert model.name == "onnx" and model.config.quantize == "int8"
    expected = model.recommend(Query(history=["i1", "i2"], k=3)).item_ids
    with TestClient(create_app(settings), headers=READ_AUTH) as client:
        r = client.post("/v1/recommendations", json={"history": ["i1", "i2"], "k": 3})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["model"] == "seq"
        got = [item["item_id"] for item in body["items"]]
        assert got == expected and not {"i1", "i2"} & set(got)
        # a known user, with and without extra history
        r = client.get("/v1/users/u3/recommendations", params={"k": 2})
        assert r.status_code == 200 and len(r.json()["items"]) == 2
        r = client.post("/v1/recommendations", json={"user_id": "u3", "history": ["i6"], "k": 2})
        assert r.status_code == 200
        assert "i6" not in [item["item_id"] for item in r.json()["items"]]
        # an unknown item in the history: a problem naming it, never a 5xx
        r = client.post("/v1/recommendations", json={"history": ["i1", "nope"], "k": 3})
        assert r.status_code in (404, 422), r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert "nope" in r.text


@pytest.fixture(scope="module")
def ncf_int8_registry(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("compressed-ncf")
    ncf = {"factors": 8, "layers": [16, 8], "epochs": 10, "lr": 0.01, "threads": 1}
    create_model("ncf", ncf).fit(toy_dataset()).save(root / "ncf")
    export_model(root / "ncf", root / "ncf-int8", quantize="int8", threads=1)
    reg = ModelRegistry(root / "registry")
    reg.register(root / "ncf-int8", "pairs")
    return reg.root


def test_known_users_are_answered_by_the_int8_ncf_export(
    ncf_int8_registry: Path, tmp_path: Path
) -> None:
    settings = make_settings(ncf_int8_registry, f"sqlite:///{tmp_path}/e.db", default_model="pairs")
    model = load_model(ncf_int8_registry / "pairs" / "1")
    assert model.name == "onnx-user" and model.config.source == "ncf"
    expected = model.recommend(Query(user_id="u3", k=3)).item_ids
    with TestClient(create_app(settings), headers=READ_AUTH) as client:
        r = client.get("/v1/users/u3/recommendations", params={"k": 3})
        assert r.status_code == 200, r.text
        assert [item["item_id"] for item in r.json()["items"]] == expected
        # a new history needs a fold-in the graph does not hold: the service's cold-start
        # answer, marked as such (as for any model without fold-in)
        r = client.post("/v1/recommendations", json={"history": ["i1", "i2"], "k": 3})
        assert r.status_code == 200, r.text
        assert r.json()["cold_start"] is True and len(r.json()["items"]) == 3
