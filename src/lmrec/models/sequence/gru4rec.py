"""GRU4Rec: a GRU over the user's item sequence (Hidasi et al., 2016), trained here like
SASRec (next item at every position, full softmax or sampled negatives) with the same
item representations (ID, text, fused)."""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from pydantic import Field
from torch import nn

from lmrec.models.neural.item_repr import ItemRepresentation
from lmrec.models.sequence.base import SequenceNetwork, SequentialConfig, SequentialRecommender


class GRU4RecConfig(SequentialConfig):
    n_layers: int = Field(1, ge=1)
    #: width of the GRU state (None: same as the item vectors, `hidden`)
    gru_hidden: int | None = Field(None, ge=1)


class GRU4RecNet(SequenceNetwork):
    """Tokens (B, L) left-padded -> states (B, L, hidden).

    The GRU must not read the padding (its biases would move the state), so each row is
    rotated to start at its first item, run packed, and rotated back.
    """

    onnx_exporter = "torchscript"

    def __init__(self, items: ItemRepresentation, cfg: GRU4RecConfig) -> None:
        super().__init__()
        width = cfg.gru_hidden or cfg.hidden
        self.items = items
        self.dropout = nn.Dropout(cfg.dropout)
        self.gru = nn.GRU(
            cfg.hidden,
            width,
            num_layers=cfg.n_layers,
            batch_first=True,
            dropout=cfg.dropout if cfg.n_layers > 1 else 0.0,
        )
        self.out = nn.Linear(width, cfg.hidden) if width != cfg.hidden else nn.Identity()
        #: run the GRU over packed sequences (skips the padding); off in exported graphs,
        #: which cannot hold the packing (see for_export)
        self.packed = True

    def for_export(self) -> GRU4RecNet:
        self.packed = False
        return self

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        length = tokens.shape[1]
        lengths = (tokens > 0).sum(dim=1)
        shift = length - lengths  # leading pads per row
        cols = torch.arange(length, device=tokens.device)[None, :]
        to_left = _wrap(cols + shift[:, None], length)  # rotate: first item to column 0
        x = self.dropout(self.items(torch.gather(tokens, 1, to_left)))
        if self.packed:
            packed = nn.utils.rnn.pack_padded_sequence(
                x, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False
            )
            states, _ = self.gru(packed)
            states, _ = nn.utils.rnn.pad_packed_sequence(
                states, batch_first=True, total_length=length
            )
        else:
            # The padding now follows each row's items, so the states at the items are
            # the same; those after them are zeroed below.
            states, _ = self.gru(x)
        states = self.out(self.dropout(states))
        back = _wrap(cols - shift[:, None] + length, length)
        index = back.unsqueeze(-1).expand(-1, -1, states.shape[-1])
        return torch.gather(states, 1, index) * (tokens > 0).unsqueeze(-1)


def _wrap(index: torch.Tensor, length: int) -> torch.Tensor:
    """index % length for 0 <= index < 2 * length, without a remainder by the sequence
    length (which the ONNX exporter cannot take when that length is dynamic)."""
    return torch.where(index >= length, index - length, index)


class GRU4Rec(SequentialRecommender[GRU4RecConfig]):
    """Recurrent sequential recommender; fold-in of new sequences without refit."""

    name = "gru4rec"
    tuning_grid: ClassVar[dict[str, list[Any]]] = {"dropout": [0.2, 0.5], "hidden": [64, 128]}

    def _build_net(self, items: ItemRepresentation) -> SequenceNetwork:
        return GRU4RecNet(items, self.config)
