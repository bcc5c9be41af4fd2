"""Model directories: metadata, run settings kept out, old formats, clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lmrec.core.options import FitOptions
from lmrec.errors import ArtifactError
from lmrec.models.artifacts import load_model, read_meta
from lmrec.models.registry import create_model
from lmrec.testing import blocks

TINY_GRU = {"hidden": 8, "epochs": 2, "dropout": 0.0}


@pytest.fixture(scope="module")
def saved_gru(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = create_model("gru4rec", {**TINY_GRU, "threads": 1, "device": "cpu"})
    model.fit(blocks().train)
    return model.save(tmp_path_factory.mktemp("gru") / "m")


def test_metadata_names_format_model_version_and_data(saved_gru: Path) -> None:
    meta = read_meta(saved_gru)
    assert meta["format"] == 2 and meta["model"] == "gru4rec"
    assert meta["lmrec_version"] and len(meta["train_fingerprint"]) == 16
    assert meta["train_fingerprint"] == blocks().train.fingerprint()


def test_run_settings_are_never_saved(saved_gru: Path) -> None:
    config = read_meta(saved_gru)["config"]
    assert not {"device", "threads", "progress", "checkpoint_dir", "resume"} & set(config)
    assert config["hidden"] == 8


def test_an_artifact_with_run_settings_inside_still_loads_on_cpu(
    saved_gru: Path, tmp_path: Path
) -> None:
    """Format 1 kept device and threads in the config: a model trained on a GPU must
    load and serve on a CPU-only machine."""
    old = tmp_path / "old"
    old.mkdir()
    for f in saved_gru.iterdir():
        (old / f.name).write_bytes(f.read_bytes())
    meta = json.loads((old / "model.json").read_text())
    meta["format"] = 1
    meta["config"].update(device="cuda:3", threads=7, progress=True, resume=False)
    meta["config"]["checkpoint_dir"] = "/no/such/dir"
    (old / "model.json").write_text(json.dumps(meta))
    model = load_model(old, options=FitOptions(device="cpu", threads=1))
    again = load_model(saved_gru, options=FitOptions(device="cpu", threads=1))
    assert model.config == again.config and model.options.threads == 1
    users = np.arange(model.n_users)
    np.testing.assert_array_equal(model.score_users(users), again.score_users(users))
    assert load_model(old).options == FitOptions()  # the saved device is never used


def test_a_newer_format_asks_for_an_upgrade(saved_gru: Path, tmp_path: Path) -> None:
    newer = tmp_path / "newer"
    newer.mkdir()
    meta = read_meta(saved_gru)
    (newer / "model.json").write_text(json.dumps({**meta, "format": 99, "lmrec_version": "9.0"}))
    with pytest.raises(ArtifactError, match=r"format 99 by lmrec 9\.0.*upgrade lmrec"):
        load_model(newer)


@pytest.mark.parametrize("damage", ["truncated params", "bad json", "no history", "no config"])
def test_a_damaged_directory_is_a_clear_error(saved_gru: Path, tmp_path: Path, damage: str) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in saved_gru.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    if damage == "truncated params":
        data = (broken / "params.npz").read_bytes()
        (broken / "params.npz").write_bytes(data[: len(data) // 2])
        match = "corrupt or truncated"
    elif damage == "bad json":
        (broken / "model.json").write_text("{not json")
        match = "not valid JSON"
    elif damage == "no history":
        (broken / "history.npz").unlink()
        match = "history.npz missing"
    else:
        meta = json.loads((broken / "model.json").read_text())
        del meta["config"]
        (broken / "model.json").write_text(json.dumps(meta))
        match = "corrupt"
    with pytest.raises(ArtifactError, match=match):
        load_model(broken)


def test_fit_options_drive_progress_and_checkpoints(tmp_path: Path) -> None:
    lines: list[str] = []
    options = FitOptions(threads=1, progress=True, report=lines.append, checkpoint_dir=tmp_path)
    toy = blocks()
    model = create_model("gru4rec", TINY_GRU).fit(toy.train, toy.test, options)
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2: loss ")
    assert "ndcg@10" in lines[0]
    assert (tmp_path / "state.json").exists()
    assert model.options is options
    saved = model.save(tmp_path / "m")
    assert "checkpoint_dir" not in read_meta(saved)["config"]
