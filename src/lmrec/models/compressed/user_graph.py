"""The scoring graph of a trained user-vector model (hybrid, NCF) as ONNX.

Input:   users   (batch,)           int64 user indices (the model's own, as in its ids)
Output:  scores  (batch, n_items)   float32, the torch model's scores before NaN masking

What is in the graph: every learned weight scoring needs, the per-user ones included
(the user tables are looked up by index), so a known user is scored as the torch model
scores them. What is not: anything that makes a new user vector. The hybrid folds a new
history in by gradient steps against the item vectors and places new catalogue items by
their text through its text tower; neither is a forward pass, so the export scores the
users and items it was made with (NCF never folds in). The hybrid's text tower is not
in the graph: its output is part of the item vectors exported.

hybrid: scores = user factors @ item factors.T + item bias (the augmented vectors of
        the torch model split, so that int8 storage does not touch the constant 1 and
        the bias).
ncf:    NeuMF's two branches over every item. The MLP's first layer acts on the
        concatenation [user, item], so it is split into a user part (a dense layer in
        the graph) and an item part precomputed per item with its bias (an item table):
        the (batch x items x width) product of that layer is never computed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from lmrec.errors import UnsupportedError
from lmrec.models.base import Recommender
from lmrec.models.compressed.graph import export_module, share_item_table

#: the user-vector families whose scoring graph exports
USER_MODELS = ("hybrid", "ncf")


@dataclass(frozen=True)
class ExportedGraph:
    model: onnx.ModelProto
    #: the user and item tables (float32 arrays, rows on the second-last axis, as in the
    #: graph), stored int8 by shrink.py
    tables: list[np.ndarray]
    #: parameters of the source model that scoring uses
    params: int
    #: items the source leaves unscored (NaN), which the graph scores as numbers
    unscorable: np.ndarray


def export_user_graph(source: Recommender[Any]) -> ExportedGraph:
    """The scoring graph of a trained hybrid or NCF model (see the module docstring)."""
    graph: _HybridGraph | _NcfGraph
    if source.name == "hybrid":
        graph = _HybridGraph(source)
    elif source.name == "ncf":
        graph = _NcfGraph(source)
    else:
        raise UnsupportedError(f"model '{source.name}' is not a user-vector model")
    users = torch.tensor([0, 1], dtype=torch.int64) % source.n_users
    model = export_module(graph.eval(), (users,), {"users": {0: "batch"}})
    for table in graph.output_tables():
        share_item_table(model, table)
    return ExportedGraph(model, graph.tables(), graph.params, graph.unscorable)


def _frozen(values: np.ndarray | torch.Tensor) -> nn.Parameter:
    tensor = torch.as_tensor(np.asarray(values, dtype=np.float32)).clone()
    return nn.Parameter(tensor, requires_grad=False)


class _HybridGraph(nn.Module):
    def __init__(self, source: Any) -> None:
        super().__init__()
        users, items = source.user_factors_, source.item_factors_
        self.users = _frozen(users[:, :-1])  # the last column is the constant 1
        self.items = _frozen(items[:, :-1])
        self.bias = _frozen(items[:, -1])
        self.params = users.size + items.size
        self.unscorable = source.unscorable_items()

    def forward(self, users: torch.Tensor) -> torch.Tensor:
        return nn.functional.embedding(users, self.users) @ self.items.T + self.bias

    def tables(self) -> list[np.ndarray]:
        return [self.users.detach().numpy(), self.items.detach().numpy()]

    def output_tables(self) -> list[np.ndarray]:
        return [self.items.detach().numpy()]


class _NcfGraph(nn.Module):
    def __init__(self, source: Any) -> None:
        super().__init__()
        net = source._network().cpu().float().eval()
        linears = [m for m in net.mlp if isinstance(m, nn.Linear)]
        if not linears:
            raise UnsupportedError(
                "an ncf with a single MLP width (layers=(N,)) has no ONNX export: "
                "train it with at least two widths, e.g. --set layers=[64,32]"
            )
        half = net.mlp_user.embedding_dim
        first = linears[0]
        with torch.no_grad():
            w_out = net.out.weight[0]
            self.gmf_user = _frozen(net.gmf_user.weight * w_out[: net.gmf_user.embedding_dim])
            self.gmf_item = _frozen(net.gmf_item.weight)
            self.mlp_user = _frozen(net.mlp_user.weight)
            self.user_part = _frozen(first.weight[:, :half])
            item_part = net.mlp_item.weight @ first.weight[:, half:].T + first.bias
            # (1, items, width), as the graph adds it: the exporter folds a reshape into it
            self.item_part = _frozen(item_part[None])
            self.mlp_out = _frozen(w_out[net.gmf_user.embedding_dim :][:, None])
            self.out_bias = _frozen(net.out.bias)
        # the layers after the first, with their activations (dropout is off in eval)
        index = list(net.mlp).index(first)
        self.rest = nn.Sequential(*[m for m in list(net.mlp)[index + 1 :]]).eval()
        self.params = sum(p.numel() for p in net.parameters())
        self.unscorable = np.zeros(source.n_items, dtype=bool)  # NCF scores every item

    def forward(self, users: torch.Tensor) -> torch.Tensor:
        gmf = nn.functional.embedding(users, self.gmf_user) @ self.gmf_item.T
        user = nn.functional.embedding(users, self.mlp_user) @ self.user_part.T
        hidden = self.rest(user[:, None, :] + self.item_part)
        mlp = (hidden @ self.mlp_out).squeeze(-1)
        return torch.sigmoid(gmf + mlp + self.out_bias)

    def tables(self) -> list[np.ndarray]:
        return [
            t.detach().numpy()
            for t in (self.gmf_user, self.gmf_item, self.mlp_user, self.item_part)
        ]

    def output_tables(self) -> list[np.ndarray]:
        return [self.gmf_item.detach().numpy()]
