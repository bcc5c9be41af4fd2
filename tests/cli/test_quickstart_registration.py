"""What `lmrec quickstart` registers for `lmrec serve`: the best model, chosen as the
default, recording the data it was trained on (so a retrain from the store can merge)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from lmrec.cli.compare_cmd import _register_for_serving
from lmrec.store.default_model import resolve_default
from lmrec.store.registry import ModelRegistry


def test_best_model_is_registered_as_the_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LMREC_HOME", str(tmp_path))
    real_find_spec = importlib.util.find_spec
    # without the text extra only the best model is registered (keeps this test quick)
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "sentence_transformers" else real_find_spec(name, *a),
    )
    rows = [
        SimpleNamespace(family="itemknn", config={}, metrics={"ndcg@10": 0.2}),
        SimpleNamespace(family="pop", config={}, metrics={"ndcg@10": 0.1}),
    ]
    _register_for_serving(rows)
    registry = ModelRegistry(tmp_path / "registry")
    assert registry.live_models() == {"itemknn": "1"}
    assert resolve_default(registry).name == "itemknn"
    assert resolve_default(registry).source == "registry"
    meta = json.loads((registry.version_path("itemknn", "1") / "model.json").read_text())
    assert meta["data"] == "ml-100k" and meta["protocol"] == "none"
