"""Starting a sequence model from one trained on another catalogue.

A model whose items are read through their text (item_repr "text" or "fused") holds no
parameter tied to the catalogue but the ID embeddings: the attention or GRU layers, the
text adaptor and the repeat offset mean the same for any set of items that has text. So
a model trained on MovieLens-1M can score MovieLens-100k, whose items it never saw,
through their text; and fine-tuning there starts from what it learned.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from lmrec.errors import ConfigError


def start_from(net: nn.Module, source_dir: str | Path, kind: type[Any]) -> None:
    """Copy the weights of the model saved in `source_dir` into `net` (in place). ID
    embeddings are left as initialised (items differ between catalogues); any other
    difference means the two models are not built alike, and is an error."""
    from lmrec.models.artifacts import load_model

    source = load_model(source_dir)
    if not isinstance(source, kind):
        raise ConfigError(
            f"init_from {source_dir} holds a '{source.name}' model; start a "
            f"'{kind.name}' model from a '{kind.name}' model"
        )
    if source.config.item_repr == "id":
        raise ConfigError(
            f"init_from {source_dir} knows items only by their ids, which mean nothing in "
            "another catalogue; train the source with item_repr=text or fused"
        )
    assert source.net_ is not None
    theirs = {k: v.detach().cpu() for k, v in source.net_.state_dict().items()}
    mine = net.state_dict()
    unlike = [
        f"{k} {tuple(theirs[k].shape)} vs {tuple(v.shape)}"
        for k, v in mine.items()
        if k in theirs and theirs[k].shape != v.shape and not k.endswith("id_emb.weight")
    ]
    missing = [k for k in mine if k not in theirs and not k.endswith("id_emb.weight")]
    if unlike or missing:
        raise ConfigError(
            f"init_from {source_dir}: the networks differ ({'; '.join(unlike + missing)}); "
            "use the source model's hidden, n_layers, heads, item_repr and text settings"
        )
    with torch.no_grad():
        for key, value in mine.items():
            if key in theirs and theirs[key].shape == value.shape:
                value.copy_(theirs[key].to(value.device))
