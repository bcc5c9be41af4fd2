"""`lmrec export` of the user-vector models (hybrid, NCF), as a user runs it: train
through the CLI, export fp32 and int8, read the parity printed, and use the exported
directory as a model (load, evaluate, recommend) with the same ids and lists."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lmrec.encoders import TextEncoder
from lmrec.models.artifacts import load_model

Invoke = Callable[..., tuple[int, str]]

SETTINGS = {
    "ncf": ["factors=8", "layers=[16,8]", "epochs=8", "lr=0.01", "batch_size=256"],
    "hybrid": ["factors=16", "epochs=20", "batch_size=64", "lr=0.05", "use_cache=false"],
}
#: int8 lists agree with the torch model's on at least this share of the top 10
INT8_OVERLAP = 0.8


@pytest.fixture(scope="module")
def trained(
    ratings_dir: Path, minilm: TextEncoder, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Path]:
    from typer.testing import CliRunner

    from lmrec.cli.main import app

    root = tmp_path_factory.mktemp("user-models")
    for name, settings in SETTINGS.items():
        sets = [a for s in settings for a in ("--set", s)]
        args = ["train", name, "--data", str(ratings_dir), *sets, "--threads", "1"]
        result = CliRunner().invoke(app, [*args, "--no-progress", "--out", str(root / name)])
        assert result.exit_code == 0, result.output
    return {name: root / name for name in SETTINGS}


def _top10(model_dir: Path) -> list[list[str]]:
    model = load_model(model_dir)
    assert model.user_map is not None
    lists, _ = model.recommend_users(np.arange(model.n_users), 10)
    return [list(model.item_map.to_ids(np.asarray(row))) for row in lists]  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["ncf", "hybrid"])
def test_fp32_export_is_the_same_model(
    invoke: Invoke, trained: dict[str, Path], name: str, tmp_path: Path
) -> None:
    source, out = trained[name], tmp_path / "onnx"
    code, text = invoke("export", source, "--out", out, "--threads", 1)
    assert code == 0, text
    assert f"exported {name} to {out} (onnx, none)" in text
    assert "parity on 80 users: top-10 overlap 1.0" in text
    meta = json.loads((out / "model.json").read_text())
    assert meta["model"] == "onnx-user" and meta["config"]["source"] == name
    assert meta["compression"]["parity"]["top10_overlap"] == 1.0
    assert (out / "user_ids.csv").read_text() == (source / "user_ids.csv").read_text()
    assert (out / "item_ids.csv").read_text() == (source / "item_ids.csv").read_text()
    assert _top10(out) == _top10(source)

    metrics = {}
    for model_dir in (source, out):
        code, text = invoke("evaluate", model_dir, "--json")
        assert code == 0, text
        metrics[model_dir] = json.loads((model_dir / "metrics.json").read_text())
    assert metrics[out]["ndcg@10"] == pytest.approx(metrics[source]["ndcg@10"], abs=1e-6)

    user = load_model(source).user_map.ids[1]  # type: ignore[union-attr]
    lists = []
    for model_dir in (source, out):
        code, text = invoke("recommend", model_dir, "--user", user, "-k", "5", "--json")
        assert code == 0, text
        lists.append([row["item_id"] for row in json.loads(text)])
    assert lists[0] == lists[1] and len(lists[0]) == 5


@pytest.mark.parametrize("name", ["ncf", "hybrid"])
def test_int8_export_follows_the_model(
    invoke: Invoke, trained: dict[str, Path], name: str, tmp_path: Path
) -> None:
    source, out = trained[name], tmp_path / "int8"
    code, text = invoke("export", source, "--quantize", "int8", "--out", out, "--json")
    assert code == 0, text
    report = json.loads(text)
    assert report["quantize"] == "int8" and report["parity"]["users"] == 80
    assert report["parity"]["top10_overlap"] >= INT8_OVERLAP
    meta = json.loads((out / "model.json").read_text())
    assert meta["compression"]["parity"] == report["parity"]
    ours, theirs = _top10(out), _top10(source)
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ours, theirs, strict=True)])
    assert overlap >= INT8_OVERLAP
    code, text = invoke("evaluate", out, "--json")
    assert code == 0, text


def test_a_history_request_to_the_export_says_what_to_use(
    invoke: Invoke, trained: dict[str, Path], tmp_path: Path
) -> None:
    out = tmp_path / "onnx"
    assert invoke("export", trained["hybrid"], "--out", out)[0] == 0
    items = load_model(out).item_map.ids[:2]  # type: ignore[union-attr]
    code, text = invoke("recommend", out, "--history", ",".join(items), "-k", "3")
    assert code == 2 and "cannot score a new history" in text and "Traceback" not in text
