"""Adaptors from frozen text embeddings to an item space: a linear projection, or a
mixture of parametric-whitening experts (UniSRec, Hou et al., KDD 2022).

A pretrained sentence encoder puts every item in one narrow cone: all embeddings share a
large common direction and differ in a few. A linear map can stretch that, but one map
must serve every kind of item. The mixture learns K whitenings (x - b_k) W_k and a gate
that mixes them per item, so items of different kinds can be read along different
directions; UniSRec found it beats a single projection on frozen BERT features.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

TextAdaptor = Literal["linear", "moe"]


class MoEWhitening(nn.Module):
    """sum_k softmax(gate(x))_k * ((x - b_k) @ W_k), with dropout on the input."""

    def __init__(self, text_dim: int, dim: int, experts: int = 8, dropout: float = 0.2) -> None:
        super().__init__()
        self.shift = nn.Parameter(torch.zeros(experts, text_dim))
        self.weight = nn.Parameter(torch.empty(experts, text_dim, dim))
        nn.init.normal_(self.weight, std=text_dim**-0.5)
        self.gate = nn.Linear(text_dim, experts, bias=False)
        nn.init.zeros_(self.gate.weight)  # start as the mean of the experts
        self.dropout = nn.Dropout(dropout)

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        x = self.dropout(text)
        # (..., K, d_text) - (K, d_text) -> (..., K, dim): each expert whitens and maps
        whitened = torch.einsum("...kt,ktd->...kd", x.unsqueeze(-2) - self.shift, self.weight)
        gate = F.softmax(self.gate(x), dim=-1).unsqueeze(-1)
        return (gate * whitened).sum(dim=-2)


def text_adaptor(kind: TextAdaptor, text_dim: int, dim: int, experts: int = 8) -> nn.Module:
    """The module mapping frozen text embeddings (..., text_dim) to item vectors."""
    if kind == "moe":
        return MoEWhitening(text_dim, dim, experts)
    return nn.Linear(text_dim, dim)
