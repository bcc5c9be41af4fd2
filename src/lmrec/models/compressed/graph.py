"""The scoring graph of a trained sequence model (SASRec, GRU4Rec) as ONNX, and the
export steps every scoring graph shares (`export_module`, `share_item_table`; the
hybrid's and NCF's graphs are in user_graph.py).

Inputs, both int64, left-padded with 0, token i + 1 = item index i:
  tokens   (batch, length)  the newest max_len items of each history: what the network reads
  history  (batch, h)       the whole history: where the learned repeat offset applies
Output:
  scores   (batch, n_items) float32, the torch model's scores before NaN masking

Batch, length and h are dynamic. In eval mode an item's vector depends on its token
alone (ID, text and fused items alike: dropout is off), so the item representation is
exported as one table of precomputed vectors, read by the input lookup and by the
output product both: the graph holds it once. A pruned ID table (`min_item_count`) is
exported as it is, with each token's row beside it: the output product scores the table's
rows and each item takes its row's score.
"""

from __future__ import annotations

import copy
import io
from typing import Any, Literal

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper
from torch import nn
from torch.nn.attention import SDPBackend, sdpa_kernel

from lmrec.encoders.onnx_export import _quiet_export
from lmrec.models.sequence.base import SequenceNetwork

OUTPUT = "scores"


class _TableLookup(nn.Module):
    """Token -> row of the precomputed item table (row 0, padding, is zero); through
    `rows` (token -> table row) when the table is a pruned ID table."""

    def __init__(self, table: nn.Parameter, rows: torch.Tensor | None) -> None:
        super().__init__()
        self.table, self.rows = table, rows

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        index = tokens if self.rows is None else self.rows[tokens]
        return nn.functional.embedding(index, self.table)


class _ScoringGraph(nn.Module):
    def __init__(self, net: SequenceNetwork) -> None:
        super().__init__()
        self.rows: torch.Tensor | None
        with torch.no_grad():
            repeat = net.items.repeat
            offset = 0.0 if repeat is None else float(repeat.item())
            pruned = net.items.id_row is not None and net.items.mode == "id"
            if pruned:
                # A pruned ID table stays pruned: the graph holds its own and shared
                # rows and each token's row, so the file grows with the popular head
                # (plus one int32 per item), not with catalogue x width.
                assert net.items.id_emb is not None and net.items.id_row is not None
                table = net.items.id_emb.weight.detach().float().cpu().clone()
                self.register_buffer("rows", net.items.id_row.detach().cpu().clone())
            else:
                items = net.items.all_items().detach().float().cpu()
                table = torch.cat([torch.zeros(1, items.shape[1]), items])
                self.rows = None
        self.table = nn.Parameter(table, requires_grad=False)
        self.repeat: torch.Tensor
        self.register_buffer("repeat", torch.tensor(offset))
        body = copy.deepcopy(net).cpu().float().eval().for_export()
        body.items = _TableLookup(self.table, self.rows)  # type: ignore[assignment]
        self.body = body

    def forward(self, tokens: torch.Tensor, history: torch.Tensor) -> torch.Tensor:
        last = self.body(tokens)[:, -1]
        scores = last @ self.table.T
        if self.rows is not None:  # a score per table row -> a score per token
            scores = scores.index_select(1, self.rows)
        # 1 in the column of every item in the whole history (an item seen twice counts
        # once), so the repeat offset is added as the torch model adds it
        seen = torch.zeros_like(scores).scatter(1, history, 1.0)
        return (scores + self.repeat * seen)[:, 1:]


def export_graph(net: SequenceNetwork) -> tuple[onnx.ModelProto, np.ndarray]:
    """The scoring graph of `net` (see the module docstring) and its padded item table
    (what shrink.py finds and stores as int8): one row per token, or for a pruned ID
    table its own rows and shared buckets."""
    graph = _ScoringGraph(net).eval()
    # Different widths, so the exporter keeps the two lengths apart.
    tokens = torch.tensor([[0, 1, 2], [1, 2, 1]], dtype=torch.int64)
    history = torch.tensor([[0, 0, 0, 1, 2], [2, 1, 1, 2, 1]], dtype=torch.int64)
    axes = {"tokens": {0: "batch", 1: "length"}, "history": {0: "batch", 1: "h"}}
    # (under the math attention kernel: the fused CPU kernel decomposes into a layout the
    # exporter cannot reshape when the length is dynamic)
    with sdpa_kernel(SDPBackend.MATH):
        model = export_module(graph, (tokens, history), axes, net.onnx_exporter)
    padded = graph.table.detach().numpy()
    share_item_table(model, padded)
    if graph.rows is not None:
        share_row_map(model, graph.rows.numpy())
    return model, padded


def export_module(
    graph: nn.Module,
    sample: tuple[torch.Tensor, ...],
    axes: dict[str, dict[int, str]],
    exporter: Literal["dynamo", "torchscript"] = "dynamo",
) -> onnx.ModelProto:
    """A scoring module as ONNX: inputs named and with dynamic axes as `axes` says (in
    `sample`'s order), one output `scores` whose first axis is the batch; without the
    exporter's per-node notes, which are most of a small graph's file."""
    with _quiet_export(), torch.no_grad():
        if exporter == "torchscript":
            model = _torchscript_export(graph, sample, axes)
        else:
            model = _dynamo_export(graph, sample, axes)
    for node in model.graph.node:
        # the exporter's per-node notes (source stack traces)
        del node.metadata_props[:]
        node.doc_string = ""
    # shapes of intermediate values: hints ONNX Runtime infers again on load
    del model.graph.value_info[:]
    return model


def _dynamo_export(
    graph: nn.Module, sample: tuple[torch.Tensor, ...], axes: dict[str, dict[int, str]]
) -> onnx.ModelProto:
    named = {name: torch.export.Dim(name) for dims in axes.values() for name in dims.values()}
    dims = tuple({axis: named[name] for axis, name in dims.items()} for dims in axes.values())
    program = torch.onnx.export(
        graph,
        sample,
        input_names=list(axes),
        output_names=[OUTPUT],
        dynamic_shapes=dims,
        dynamo=True,
    )
    assert program is not None
    return program.model_proto


def _torchscript_export(
    graph: nn.Module, sample: tuple[torch.Tensor, ...], axes: dict[str, dict[int, str]]
) -> onnx.ModelProto:
    buffer = io.BytesIO()
    target: Any = buffer  # a file object works; the stubs name paths only
    torch.onnx.export(
        graph,
        sample,
        target,
        input_names=list(axes),
        output_names=[OUTPUT],
        dynamic_axes={**axes, OUTPUT: {0: "batch"}},
        dynamo=False,
        opset_version=17,
    )
    return onnx.load_from_string(buffer.getvalue())


def share_row_map(model: onnx.ModelProto, rows: np.ndarray) -> None:
    """The exporter gives the lookup and the output product each a copy of a pruned
    table's token -> row map, as int64: keep one copy, as int32 (rows number far below
    2^31), widened once in the graph."""
    copies = [
        init
        for init in model.graph.initializer
        if tuple(init.dims) == rows.shape
        and init.data_type == onnx.TensorProto.INT64
        and np.array_equal(numpy_helper.to_array(init), rows)
    ]
    if not copies:
        return
    name = copies[0].name
    others = {init.name for init in copies[1:]}
    for init in copies:
        model.graph.initializer.remove(init)
    for node in model.graph.node:
        node.input[:] = [name if value in others else value for value in node.input]
    model.graph.initializer.append(numpy_helper.from_array(rows.astype(np.int32), f"{name}_int32"))
    widen = helper.make_node(
        "Cast", [f"{name}_int32"], [name], name=f"{name}_to_int64", to=onnx.TensorProto.INT64
    )
    model.graph.node.insert(0, widen)


def share_item_table(model: onnx.ModelProto, table: np.ndarray) -> None:
    """The exporter folds a table's transpose into a copy of its own for an output
    product (scores = vectors @ table.T); read the table itself there, through Gemm with
    transB: the lookup's copy when the graph has one (no second copy), else the table
    added once under its own name (so shrink.py finds it in the same layout)."""
    inits = {init.name: init for init in model.graph.initializer}
    table_name = next(
        (
            name
            for name, init in inits.items()
            if tuple(init.dims) == table.shape
            and np.array_equal(numpy_helper.to_array(init), table)
        ),
        None,
    )
    for position, node in enumerate(model.graph.node):
        weight = inits.get(node.input[1]) if node.op_type == "MatMul" else None
        if weight is None or tuple(weight.dims) != table.T.shape:
            continue
        if not np.array_equal(numpy_helper.to_array(weight), table.T):
            continue
        if table_name is None:
            table_name = f"{weight.name}_table"
            model.graph.initializer.append(numpy_helper.from_array(table, table_name))
        gemm = helper.make_node(
            "Gemm", [node.input[0], table_name], list(node.output), name=node.name, transB=1
        )
        model.graph.node.remove(node)
        model.graph.node.insert(position, gemm)
        model.graph.initializer.remove(weight)
        return
