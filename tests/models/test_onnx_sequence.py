"""The ONNX export of SASRec (`onnx` model family): the shared contract, and scores that
follow the torch model's through fp32, int8 and fp16 weights."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import onnx
import pandas as pd
import pytest
from onnx import numpy_helper

from lmrec.data.dataset import from_frame
from lmrec.errors import UnsupportedError
from lmrec.models.artifacts import load_model
from lmrec.models.compressed.onnx_sequence import OnnxSequenceRecommender
from lmrec.models.registry import create_model
from lmrec.testing import RecommenderContract

from .sequence_toys import cycle_data, next_after, repeat_data

FAST = {"hidden": 16, "heads": 2, "n_layers": 1, "dropout": 0.0, "lr": 0.01}


class TestOnnxContract(RecommenderContract):
    model_name = "onnx"
    model_config: ClassVar[dict[str, Any]] = {
        "source": "sasrec",
        "source_config": {**FAST, "epochs": 40, "max_len": 16},
        "parity_users": 8,
        "threads": 1,
    }
    stochastic = True


@pytest.fixture(scope="module")
def sasrec() -> Any:
    """SASRec with ID items over a catalogue with one item nobody has seen (unscorable)."""
    data = cycle_data(max_length=30)
    items = pd.DataFrame({"item_id": [*data.item_map.ids, "never-seen"]})
    data = from_frame(data.to_frame(), items=items)
    config = {**FAST, "epochs": 15, "max_len": 8, "threads": 1}
    return create_model("sasrec", config).fit(data)


def _sequences(model: Any) -> list[np.ndarray]:
    """Histories shorter than, equal to and (much) longer than max_len, with repeats (the
    repeat offset covers the whole history, beyond what the network reads)."""
    rng = np.random.default_rng(3)
    lengths = [1, 2, 7, 8, 9, 25, 60]
    return [rng.integers(0, model.n_items - 1, size=n) for n in lengths] + [np.zeros(0, int)]


def test_fp32_export_scores_like_torch(sasrec: Any) -> None:
    onnx_model = OnnxSequenceRecommender.from_model(sasrec, "none", parity_users=40)
    seqs = _sequences(sasrec)
    expected, got = sasrec.score_sequences(seqs), onnx_model.score_sequences(seqs)
    # NaN in the same places: the empty history, and the item never seen in training
    np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
    assert np.isnan(got[:, -1]).all() and np.isnan(got[-1]).all()
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)
    assert onnx_model.parity_ is not None
    assert onnx_model.parity_["top10_overlap"] == 1.0
    assert onnx_model.parity_["max_abs_error"] < 1e-4
    assert next_after(onnx_model, ["i0", "i1", "i2"]) == next_after(sasrec, ["i0", "i1", "i2"])


def test_repeat_offset_is_in_the_graph(sasrec: Any) -> None:
    """An item seen once, long before the network's window, still gets the offset."""
    onnx_model = OnnxSequenceRecommender.from_model(sasrec, "none", parity_users=4)
    window = np.array([1, 2, 3, 4, 5, 1, 2, 3], dtype=np.int64)  # max_len = 8 items
    with_old = np.concatenate([[0], window])  # item 0 only before the window
    offset = float(sasrec._network().items.repeat.item())
    assert abs(offset) > 0.01  # trained away from 0, so the check below can fail
    diff = onnx_model.score_sequences([with_old])[0] - onnx_model.score_sequences([window])[0]
    np.testing.assert_allclose(diff[0], offset, atol=1e-4)
    np.testing.assert_allclose(np.delete(diff, [0, sasrec.n_items - 1]), 0.0, atol=1e-4)


@pytest.mark.parametrize("quantize", ["int8", "fp16"])
def test_quantised_export_is_smaller_and_close(sasrec: Any, quantize: str) -> None:
    fp32 = OnnxSequenceRecommender.from_model(sasrec, "none", parity_users=4)
    small = OnnxSequenceRecommender.from_model(sasrec, quantize, parity_users=40)  # type: ignore[arg-type]
    assert small.graph_ is not None and fp32.graph_ is not None
    # the weights (a toy graph's file is mostly its structure)
    assert _weight_bytes(small.graph_) < 0.6 * _weight_bytes(fp32.graph_)
    assert small.parity_ is not None and small.parity_["users"] == 40
    assert small.parity_["top10_overlap"] >= 0.8
    seqs = _sequences(sasrec)[:-1]
    expected = sasrec.score_sequences(seqs)
    got = small.score_sequences(seqs)
    spread = np.nanmax(expected) - np.nanmin(expected)
    assert np.nanmax(np.abs(got - expected)) < 0.05 * spread
    assert small.parity_["max_abs_error"] > 0  # it really is another set of weights


def _weight_bytes(graph: bytes) -> int:
    model = onnx.load_from_string(graph)
    return sum(numpy_helper.to_array(init).nbytes for init in model.graph.initializer)


def test_saved_export_loads_and_scores_without_torch(sasrec: Any, tmp_path: Path) -> None:
    onnx_model = OnnxSequenceRecommender.from_model(sasrec, "int8", parity_users=8)
    onnx_model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    seqs = _sequences(sasrec)
    np.testing.assert_array_equal(loaded.score_sequences(seqs), onnx_model.score_sequences(seqs))
    assert loaded.parity_ == onnx_model.parity_
    script = textwrap.dedent(
        f"""
        import sys
        from lmrec.core.query import Query
        from lmrec.models.artifacts import load_model
        model = load_model({str(tmp_path / "m")!r})
        recs = model.recommend(Query(history=["i0", "i1"], k=3))
        assert len(recs) == 3, recs
        assert "torch" not in sys.modules, "loading an ONNX model imported torch"
        assert "onnx" not in sys.modules, "loading an ONNX model imported the onnx package"
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_gru4rec_exports_and_scores_like_torch() -> None:
    """GRU4Rec runs packed in torch; its graph runs the GRU over every column and gets
    the same states at the items."""
    gru = create_model("gru4rec", {"hidden": 8, "epochs": 3, "threads": 1}).fit(cycle_data())
    for quantize in ("none", "int8"):
        onnx_model = OnnxSequenceRecommender.from_model(gru, quantize, parity_users=40)  # type: ignore[arg-type]
        seqs = _sequences(gru)
        expected, got = gru.score_sequences(seqs), onnx_model.score_sequences(seqs)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
        tolerance = 1e-4 if quantize == "none" else 0.05 * np.nanmax(np.abs(expected))
        np.testing.assert_allclose(got, expected, atol=tolerance, rtol=0)
        assert onnx_model.parity_ is not None and onnx_model.parity_["top10_overlap"] >= 0.8


def test_pruned_id_table_stays_pruned_in_the_graph() -> None:
    """Rare items share a few ID rows in torch; the exported file keeps that table (own
    rows + shared buckets), not a vector per catalogue item, and scores the same."""
    data = repeat_data(False, n_users=60, n_items=30)
    config = {**FAST, "epochs": 5, "max_len": 8, "threads": 1}
    model = create_model("sasrec", {**config, "min_item_count": 17, "rare_buckets": 2}).fit(data)
    own = int(model.id_own_.sum())
    assert 0 < own < model.n_items  # some items own a row, some share one
    for quantize in ("none", "int8"):
        onnx_model = OnnxSequenceRecommender.from_model(model, quantize, parity_users=40)  # type: ignore[arg-type]
        assert onnx_model.graph_ is not None
        graph = onnx.load_from_string(onnx_model.graph_)
        shapes = {tuple(init.dims) for init in graph.graph.initializer}
        assert (own + 2 + 1, FAST["hidden"]) in shapes
        assert (model.n_items + 1, FAST["hidden"]) not in shapes
        # one token -> row map, stored as int32
        maps = [i for i in graph.graph.initializer if tuple(i.dims) == (model.n_items + 1,)]
        assert [m.data_type for m in maps] == [onnx.TensorProto.INT32]
        seqs = _sequences(model)
        expected, got = model.score_sequences(seqs), onnx_model.score_sequences(seqs)
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
        spread = np.nanmax(expected) - np.nanmin(expected)
        tolerance = 1e-4 if quantize == "none" else 0.05 * spread
        np.testing.assert_allclose(got, expected, atol=tolerance, rtol=0)


def test_models_without_an_export_are_refused() -> None:
    ease = create_model("ease").fit(cycle_data())
    with pytest.raises(UnsupportedError, match=r"no ONNX export yet .*exportable: sasrec, gru4rec"):
        OnnxSequenceRecommender.from_model(ease)
