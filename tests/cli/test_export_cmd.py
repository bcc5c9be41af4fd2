"""`lmrec export`: a trained SASRec as an ONNX model directory that `lmrec evaluate` and
`lmrec recommend` use like the original; bad requests get one clear line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

Invoke = Callable[..., tuple[int, str]]

SMALL = ["--set", "hidden=16", "--set", "n_layers=1", "--set", "epochs=5", "--threads", "1"]


@pytest.fixture(scope="module")
def sasrec_dir(ratings_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from typer.testing import CliRunner

    from lmrec.cli.main import app

    out = tmp_path_factory.mktemp("sasrec") / "model"
    args = ["train", "sasrec", "--data", str(ratings_dir), "--protocol", "loo", *SMALL]
    result = CliRunner().invoke(app, [*args, "--no-progress", "--out", str(out)])
    assert result.exit_code == 0, result.output
    return out


def test_export_evaluate_recommend(invoke: Invoke, sasrec_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "onnx"
    code, text = invoke("export", sasrec_dir, "--format", "onnx", "--out", out, "--threads", 1)
    assert code == 0, text
    assert "parity on 80 users: top-10 overlap 1.0" in text
    meta = json.loads((out / "model.json").read_text())
    source = json.loads((sasrec_dir / "model.json").read_text())
    assert meta["model"] == "onnx" and meta["config"]["source"] == "sasrec"
    assert meta["config"]["source_config"]["hidden"] == 16
    # the data, split and fingerprint travel with it, so evaluate rebuilds the same split
    for key in ("data", "protocol", "split_seed", "train_fingerprint"):
        assert meta[key] == source[key]
    assert meta["compression"]["parity"]["top10_overlap"] == 1.0
    assert (out / "model.onnx").stat().st_size > 0 and (out / "holdout.parquet").exists()
    assert (out / "item_ids.csv").read_text() == (sasrec_dir / "item_ids.csv").read_text()

    metrics = {}
    for model_dir in (sasrec_dir, out):
        code, text = invoke("evaluate", model_dir, "--json")
        assert code == 0, text
        metrics[model_dir] = json.loads((model_dir / "metrics.json").read_text())
    assert metrics[out]["ndcg@10"] == pytest.approx(metrics[sasrec_dir]["ndcg@10"], abs=1e-4)

    lists = []
    for model_dir in (sasrec_dir, out):
        code, text = invoke("recommend", model_dir, "--history", "1,2,3", "-k", "5", "--json")
        assert code == 0, text
        lists.append([row["item_id"] for row in json.loads(text)])
    assert lists[0] == lists[1] and len(lists[0]) == 5


def test_int8_export_records_parity(invoke: Invoke, sasrec_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "int8"
    code, text = invoke("export", sasrec_dir, "--quantize", "int8", "--out", out, "--json")
    assert code == 0, text
    report = json.loads(text)
    assert report["quantize"] == "int8" and report["parity"]["users"] == 80
    assert 0.5 <= report["parity"]["top10_overlap"] <= 1.0
    meta = json.loads((out / "model.json").read_text())
    assert meta["compression"]["quantize"] == "int8"
    assert meta["compression"]["parity"] == report["parity"]
    code, text = invoke("recommend", out, "--user", "0", "-k", "3", "--json")
    assert code == 0 and len(json.loads(text)) == 3, text


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "tflite"], "unknown export format 'tflite' (choose from onnx)"),
        (["--quantize", "int4"], "unknown quantisation 'int4' (choose from none, int8, fp16)"),
    ],
)
def test_bad_options_are_one_line_errors(
    invoke: Invoke, sasrec_dir: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    code, text = invoke("export", sasrec_dir, *args, "--out", tmp_path / "x")
    assert code == 2 and message in text and "Traceback" not in text
    assert not (tmp_path / "x").exists()


def test_models_without_an_export_say_so(invoke: Invoke, ratings_dir: Path, tmp_path: Path) -> None:
    ease = tmp_path / "ease"
    assert invoke("train", "ease", "--data", ratings_dir, "--out", ease)[0] == 0
    code, text = invoke("export", ease, "--out", tmp_path / "x")
    assert code == 2 and (
        "model 'ease' has no ONNX export yet (exportable: sasrec, gru4rec, hybrid, ncf)" in text
    )
    code, text = invoke("export", tmp_path / "nothing", "--out", tmp_path / "y")
    assert code == 2 and "not a model directory" in text
