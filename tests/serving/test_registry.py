"""The model registry: versions, promotion, rollback, atomic state, CLI."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest
from serving_toys import toy_dataset
from typer.testing import CliRunner

from lmrec.cli.main import _register_commands, app
from lmrec.errors import ArtifactError, ConfigError, ConflictError, UnknownIdError
from lmrec.models.artifacts import load_model
from lmrec.models.baseline.popularity import PopularityRecommender
from lmrec.store import registry as registry_module
from lmrec.store.registry import ModelRegistry, lmrec_home

_register_commands()


@pytest.fixture
def model_dir(tmp_path: Path) -> Path:
    model = PopularityRecommender().fit(toy_dataset())
    return model.save(tmp_path / "trained", extra={"train_fingerprint": "abc123"})


def test_register_numbers_versions_and_first_one_goes_live(tmp_path: Path, model_dir: Path) -> None:
    reg = ModelRegistry(tmp_path / "reg")
    assert reg.register(model_dir, "pop", metrics={"ndcg@10": 0.25}) == "1"
    assert reg.register(model_dir, "pop") == "2"
    assert reg.live_version("pop") == "1"  # later versions wait for a promotion
    info = reg.info("pop", "1")
    assert info.metrics == {"ndcg@10": 0.25} and info.fingerprint == "abc123"
    assert info.model == "pop" and info.live
    loaded = load_model(reg.version_path("pop", "2"))
    assert loaded.recommend("u3", k=2).item_ids == ["i2", "i3"]
    assert [(v.name, v.version, v.live) for v in reg.list()] == [
        ("pop", "1", True), ("pop", "2", False),
    ]  # fmt: skip


def test_register_a_fitted_model_directly(tmp_path: Path) -> None:
    version = registry_module.register(
        PopularityRecommender().fit(toy_dataset()), "direct", registry=tmp_path / "reg"
    )
    assert version == "1"
    assert ModelRegistry(tmp_path / "reg").live_models() == {"direct": "1"}


def test_promote_and_rollback_walk_the_history(tmp_path: Path, model_dir: Path) -> None:
    reg = ModelRegistry(tmp_path / "reg")
    for _ in range(3):
        reg.register(model_dir, "m")
    assert reg.promote("m", "2") == "1"
    assert reg.promote("m", 3) == "2"
    assert reg.promote("m", "3") == "3"  # promoting the live version changes nothing
    assert reg.rollback("m") == "2"
    assert reg.rollback("m") == "1"
    with pytest.raises(ConflictError, match="no earlier live version"):
        reg.rollback("m")
    state = json.loads((reg.root / "m" / "state.json").read_text())
    actions = [(h["action"], h["version"]) for h in state["history"]]
    assert actions == [
        ("register", "1"), ("promote", "1"), ("register", "2"), ("register", "3"),
        ("promote", "2"), ("promote", "3"), ("rollback", "2"), ("rollback", "1"),
    ]  # fmt: skip
    assert not list((reg.root / "m").glob("*.tmp"))  # the atomic write left no temp file


def test_errors_say_what_is_wrong(tmp_path: Path, model_dir: Path) -> None:
    reg = ModelRegistry(tmp_path / "reg")
    with pytest.raises(ConfigError, match="invalid model name"):
        reg.register(model_dir, "../escape")
    with pytest.raises(ArtifactError, match="not a model directory"):
        reg.register(tmp_path, "m")
    assert not (reg.root / "m").exists() or reg.versions("m") == []
    reg.register(model_dir, "m")
    with pytest.raises(UnknownIdError, match="no version '7'"):
        reg.promote("m", "7")
    with pytest.raises(UnknownIdError, match="no model named 'other'"):
        reg.rollback("other")


def test_concurrent_registrations_get_distinct_versions(tmp_path: Path, model_dir: Path) -> None:
    reg = ModelRegistry(tmp_path / "reg")
    versions: list[str] = []
    threads = [
        threading.Thread(target=lambda: versions.append(reg.register(model_dir, "m")))
        for _ in range(6)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(versions, key=int) == [str(i) for i in range(1, 7)]
    history = reg.state("m")["history"]
    assert sum(h["action"] == "register" for h in history) == 6


def test_default_registry_lives_under_lmrec_home(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("LMREC_HOME", str(tmp_path / "home"))
    assert lmrec_home() == tmp_path / "home"
    assert ModelRegistry.default().root == tmp_path / "home" / "registry"


def test_cli_models_commands(tmp_path: Path, model_dir: Path) -> None:
    runner = CliRunner()
    reg = str(tmp_path / "reg")
    r = runner.invoke(app, ["models", "register", str(model_dir), "pop", "--registry", reg])
    assert r.exit_code == 0 and "version 1 (live)" in r.output
    runner.invoke(app, ["models", "register", str(model_dir), "pop", "--registry", reg])
    r = runner.invoke(app, ["models", "promote", "pop", "2", "--registry", reg])
    assert r.exit_code == 0 and "version 2 is live (was 1)" in r.output
    r = runner.invoke(app, ["models", "list", "--registry", reg, "--json"])
    rows = json.loads(r.output)
    assert [(x["version"], x["live"]) for x in rows] == [("1", False), ("2", True)]
    r = runner.invoke(app, ["models", "rollback", "pop", "--registry", reg])
    assert r.exit_code == 0 and "rolled back to version 1" in r.output
    r = runner.invoke(app, ["models", "promote", "pop", "5", "--registry", reg])
    assert r.exit_code == 2 and "no version '5'" in r.output
