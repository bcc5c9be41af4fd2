"""The top layers of a sentence encoder, split off so they can train with a recommender.

Running the whole encoder over the catalogue at every training step costs too much, and
fine-tuning only the top layers is what works best when behaviour data is small (Recformer
and MoRec train the text tower end to end; its lower layers change little). So the layers
below the top `n` run once, their token states are kept, and the top `n` layers (copies,
trainable) plus the encoder's mean pooling turn those states into item vectors on demand.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lmrec.encoders.base import resolve_model
from lmrec.encoders.config import EncoderConfig
from lmrec.encoders.sentence import load_sentence_transformer
from lmrec.errors import ConfigError


@dataclass
class LowerStates:
    """Token states of each text after the frozen lower layers, and which tokens exist."""

    states: np.ndarray  # (n, T, hidden) float32
    mask: np.ndarray  # (n, T) bool


def split_encoder(
    config: EncoderConfig, texts: Sequence[str], top: int, max_tokens: int = 64
) -> tuple[LowerStates, nn.ModuleList]:
    """Run `texts` through all but the top `top` layers of the encoder (once, no grad)
    and return their states with trainable copies of the top layers."""
    model = load_sentence_transformer(resolve_model(config), "cpu")
    backbone: Any = model[0].auto_model
    layers = getattr(getattr(backbone, "encoder", None), "layer", None)
    if not isinstance(layers, nn.ModuleList):
        raise ConfigError(
            f"text model {config.model} is not a BERT-style encoder; joint training of its "
            "top layers needs one (e.g. the default all-MiniLM-L6-v2)"
        )
    if not 1 <= top <= len(layers):
        raise ConfigError(f"text_tune_layers must be 1..{len(layers)} for this encoder (got {top})")
    tokens = model.tokenizer(
        [t or "" for t in texts],
        padding="max_length",
        truncation=True,
        max_length=max_tokens,
        return_tensors="pt",
    )
    cut = len(layers) - top
    states = []
    with torch.no_grad():
        for start in range(0, len(texts), 256):
            part = {k: v[start : start + 256] for k, v in tokens.items()}
            out = backbone(**part, output_hidden_states=True)
            states.append(out.hidden_states[cut].float())
    mask = tokens["attention_mask"].bool().numpy()
    lower = LowerStates(torch.cat(states).numpy() if states else np.zeros((0, max_tokens, 1)), mask)
    return lower, nn.ModuleList(copy.deepcopy(layers[cut:])).train()


class EncoderTop(nn.Module):
    """Item vectors from cached lower states: the top layers, mean pooling over real
    tokens, unit length (as the sentence encoder itself ends). Row 0 is padding."""

    def __init__(self, lower: LowerStates, layers: nn.ModuleList) -> None:
        super().__init__()
        self.states: torch.Tensor
        self.mask: torch.Tensor
        n, length, hidden = lower.states.shape
        states = np.zeros((n + 1, length, hidden), dtype=np.float32)
        states[1:] = lower.states
        mask = np.zeros((n + 1, length), dtype=bool)
        mask[1:] = lower.mask
        # Recomputed from the item text when a model is loaded, so not saved.
        self.register_buffer("states", torch.from_numpy(states), persistent=False)
        self.register_buffer("mask", torch.from_numpy(mask), persistent=False)
        self.layers = layers
        self.dim = hidden

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Vectors (*tokens.shape, hidden) for item tokens; each distinct token is run
        through the layers once."""
        unique, inverse = torch.unique(tokens, return_inverse=True)
        h = self.states[unique]
        keep = self.mask[unique]
        additive = (~keep)[:, None, None, :].to(h.dtype) * torch.finfo(h.dtype).min
        for layer in self.layers:
            out = layer(h, attention_mask=additive)
            h = out[0] if isinstance(out, tuple) else out
        weights = keep.to(h.dtype).unsqueeze(-1)
        pooled = (h * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1.0)
        return F.normalize(pooled, dim=-1)[inverse]
