"""Smaller weights for an exported scoring graph (lmrec.models.compressed.graph).

int8: the dense layers' MatMul weights are quantised dynamically by ONNX Runtime (int8
      weights per output channel, activations quantised per call), and the item (and
      user) tables are stored as int8 with one scale per row, dequantised in the graph
      (DequantizeLinear) before the lookup and the output product read them.
fp16: every float weight is stored as fp16 and cast back to fp32 in the graph, so the
      arithmetic stays fp32 on CPUs without fast fp16 and only the file halves.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# the quantiser's advice goes through the root logger; the text encoder's export keeps it
# out of the user's logging the same way
from lmrec.encoders.onnx_export import _quiet_root_logger
from lmrec.models.compressed import Quantize

#: weights smaller than this stay fp32 under fp16 (norm scales, biases of a few values:
#: nothing to gain, and a cast per call)
_MIN_FP16_SIZE = 256


def shrink(model: onnx.ModelProto, quantize: Quantize, tables: Sequence[np.ndarray]) -> bytes:
    """The serialised graph with its weights stored as `quantize` says; `tables` are the
    item and user tables (rows: items or users), found in the graph by their values."""
    if quantize == "int8":
        # tables first: the quantiser would take a table read by Gemm alone for a dense
        # weight (per-item scales, but the user vectors quantised per call as well)
        for name in dict.fromkeys(_find(model, table).name for table in tables):
            _int8_table(model, name)
        model = _int8_dense_layers(model)
    elif quantize == "fp16":
        _fp16_weights(model)
    return model.SerializeToString()


def _int8_dense_layers(model: onnx.ModelProto) -> onnx.ModelProto:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with tempfile.TemporaryDirectory(prefix="lmrec-quantize-") as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        onnx.save(model, str(src))
        with _quiet_root_logger():
            quantize_dynamic(
                str(src),
                str(dst),
                weight_type=QuantType.QInt8,
                per_channel=True,
                op_types_to_quantize=["MatMul"],
            )
        return onnx.load(str(dst))


def _int8_table(model: onnx.ModelProto, name: str) -> None:
    """Replace a table (rows on its second-last axis) by int8 values, a scale per row
    (symmetric), and a DequantizeLinear node whose output its readers take instead."""
    table = next(init for init in model.graph.initializer if init.name == name)
    values = numpy_helper.to_array(table)
    rows = values.reshape(-1, values.shape[-1])
    peak = np.abs(rows).max(axis=1)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)  # padding row: 0s
    quantised = np.clip(np.rint(rows / scale[:, None]), -127, 127).astype(np.int8)
    model.graph.initializer.remove(table)
    model.graph.initializer.extend(
        [
            numpy_helper.from_array(quantised.reshape(values.shape), f"{name}_int8"),
            numpy_helper.from_array(scale, f"{name}_scale"),
        ]
    )
    node = helper.make_node(
        "DequantizeLinear",
        [f"{name}_int8", f"{name}_scale"],  # no zero point: 0, of the values' type
        [name],
        name=f"{name}_dequantize",
        axis=values.ndim - 2,
    )
    model.graph.node.insert(0, node)


def _fp16_weights(model: onnx.ModelProto) -> None:
    """Store every sizeable float weight as fp16 with a Cast back to fp32 before use."""
    casts = []
    for init in list(model.graph.initializer):
        if init.data_type != TensorProto.FLOAT or int(np.prod(init.dims)) < _MIN_FP16_SIZE:
            continue
        values = numpy_helper.to_array(init).astype(np.float16)
        model.graph.initializer.remove(init)
        model.graph.initializer.append(numpy_helper.from_array(values, f"{init.name}_fp16"))
        casts.append(
            helper.make_node(
                "Cast",
                [f"{init.name}_fp16"],
                [init.name],
                name=f"{init.name}_to_fp32",
                to=TensorProto.FLOAT,
            )
        )
    for position, node in enumerate(casts):
        model.graph.node.insert(position, node)


def _find(model: onnx.ModelProto, table: np.ndarray) -> onnx.TensorProto:
    found = [
        init
        for init in model.graph.initializer
        if tuple(init.dims) == table.shape
        and init.data_type == TensorProto.FLOAT
        and np.array_equal(numpy_helper.to_array(init), table)
    ]
    if not found:
        raise ValueError(f"expected a table of shape {table.shape} in the graph, found none")
    return found[0]
