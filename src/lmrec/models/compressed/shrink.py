"""Smaller weights for an exported scoring graph (lmrec.models.compressed.graph).

int8: the dense layers' MatMul weights are quantised dynamically by ONNX Runtime (int8
      weights per output channel, activations quantised per call), and the item table is
      stored as int8 with one scale per item, dequantised in the graph (DequantizeLinear)
      before the lookup and the output product read it.
fp16: every float weight is stored as fp16 and cast back to fp32 in the graph, so the
      arithmetic stays fp32 on CPUs without fast fp16 and only the file halves.
"""

from __future__ import annotations

import tempfile
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


def shrink(model: onnx.ModelProto, quantize: Quantize, table_shape: tuple[int, int]) -> bytes:
    """The serialised graph with its weights stored as `quantize` says; `table_shape` is
    the shape of the padded item table (n_items + 1, dim), found by that shape."""
    if quantize == "int8":
        model = _int8_dense_layers(model)
        _int8_table(model, table_shape)
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


def _int8_table(model: onnx.ModelProto, table_shape: tuple[int, int]) -> None:
    """Replace the item table by int8 values, a scale per item (symmetric), and a
    DequantizeLinear node whose output its readers take instead."""
    table = _find(model, table_shape, TensorProto.FLOAT)
    values = numpy_helper.to_array(table)
    peak = np.abs(values).max(axis=1)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)  # padding row: 0s
    quantised = np.clip(np.rint(values / scale[:, None]), -127, 127).astype(np.int8)
    name = table.name
    model.graph.initializer.remove(table)
    model.graph.initializer.extend(
        [
            numpy_helper.from_array(quantised, f"{name}_int8"),
            numpy_helper.from_array(scale, f"{name}_scale"),
        ]
    )
    node = helper.make_node(
        "DequantizeLinear",
        [f"{name}_int8", f"{name}_scale"],  # no zero point: 0, of the values' type
        [name],
        name=f"{name}_dequantize",
        axis=0,
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


def _find(model: onnx.ModelProto, shape: tuple[int, int], dtype: int) -> onnx.TensorProto:
    looked_up = {node.input[0] for node in model.graph.node if node.op_type == "Gather"}
    found = [
        init
        for init in model.graph.initializer
        if tuple(init.dims) == shape and init.data_type == dtype and init.name in looked_up
    ]
    if len(found) != 1:
        raise ValueError(
            f"expected one item table of shape {shape} in the graph, found {len(found)}"
        )
    return found[0]
