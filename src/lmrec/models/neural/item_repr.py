"""Item representations of the torch models: a learned ID embedding, the item's frozen
text embedding through a learned projection, or both fused; and where the text
embeddings come from (`TextSpec`)."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from lmrec.errors import ConfigError, DataError
from lmrec.models.neural.text_adaptor import TextAdaptor, text_adaptor

ItemRepr = Literal["id", "text", "fused"]
Fusion = Literal["sum", "gate"]


#: see ItemRepresentation.repeat
REPEAT_SCALE = 20.0


class ItemRepresentation(nn.Module):
    """Vectors for item tokens (token 0 is padding, token i+1 is item index i).

    id:    a learned embedding per item.
    text:  the item's frozen text embedding through a learned adaptor: a linear
           projection, or a mixture of whitening experts (`adaptor="moe"`, see
           lmrec.models.neural.text_adaptor).
    fused: both, summed or mixed by a learned per-dimension gate. Items that never
           occurred in training (`has_id` false) use the text path alone, so a new item
           is scored by its text rather than by an untrained ID vector; while training,
           a share `id_dropout` of item occurrences also goes through text alone.

    With `repeat_bias`, one learned scalar is added to the score of every item already in
    the user's sequence: strongly negative where people rarely return to an item (films),
    positive where they do (groceries). Without it the network has to push seen items down
    through its states alone, which it learns poorly: on ml-100k almost half of SASRec's
    top 10 were items the user had already watched.
    """

    def __init__(
        self,
        n_items: int,
        dim: int,
        mode: ItemRepr = "id",
        fusion: Fusion = "sum",
        text: np.ndarray | None = None,
        has_id: np.ndarray | None = None,
        id_rows: np.ndarray | None = None,
        id_table_rows: int | None = None,
        id_dropout: float = 0.0,
        repeat_bias: bool = False,
        adaptor: TextAdaptor = "linear",
        experts: int = 8,
        tower: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.text: torch.Tensor  # buffers, registered below
        self.has_id: torch.Tensor
        self.mode, self.fusion, self.n_items, self.dim = mode, fusion, n_items, dim
        self.id_dropout = id_dropout
        self.id_emb: nn.Embedding | None = None
        self.text_proj: nn.Module | None = None
        self.gate: nn.Linear | None = None
        #: token -> row of the ID table when it is pruned (rare items share rows)
        self.id_row: torch.Tensor | None
        id_table = n_items + 1
        if id_rows is not None:
            rows = np.concatenate([[0], np.asarray(id_rows, dtype=np.int64)])
            self.register_buffer("id_row", torch.from_numpy(rows), persistent=False)
            id_table = id_table_rows or int(rows.max()) + 1
        else:
            self.id_row = None
        if mode in ("id", "fused"):
            self.id_emb = nn.Embedding(id_table, dim, padding_idx=0)
            nn.init.normal_(self.id_emb.weight, std=dim**-0.5)
            with torch.no_grad():
                self.id_emb.weight[0].zero_()
        #: the encoder's top layers, trained with the model (joint training); else the
        #: frozen text embeddings are looked up
        self.tower = tower
        if mode in ("text", "fused"):
            if tower is not None:
                text_width = int(getattr(tower, "dim", 0))
            elif text is None:
                raise ConfigError(f"item_repr='{mode}' needs item text embeddings")
            else:
                text_width = text.shape[1]
                padded = np.zeros((n_items + 1, text_width), dtype=np.float32)
                padded[1:] = text
                # Frozen and not persistent: the artifact stores the text matrix apart.
                self.register_buffer("text", torch.from_numpy(padded), persistent=False)
            self.text_proj = text_adaptor(adaptor, text_width, dim, experts)
        if mode == "fused" and fusion == "gate":
            self.gate = nn.Linear(2 * dim, dim)
        known = np.ones(n_items, dtype=bool) if has_id is None else np.asarray(has_id, bool)
        flags = np.concatenate([[False], known]).astype(np.float32)
        self.register_buffer("has_id", torch.from_numpy(flags), persistent=False)
        self.repeat_raw = nn.Parameter(torch.zeros(())) if repeat_bias else None

    @property
    def repeat(self) -> torch.Tensor | None:
        """The repeat offset (None without `repeat_bias`). Stored divided by REPEAT_SCALE:
        Adam moves a parameter by about lr per step whatever its gradient, and this one
        must travel several logits within a few hundred steps."""
        return None if self.repeat_raw is None else self.repeat_raw * REPEAT_SCALE

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """Vectors (*tokens.shape, dim); zero for padding tokens."""
        present = (tokens > 0).unsqueeze(-1).to(torch.float32)
        ids = tokens if self.id_row is None else self.id_row[tokens]
        if self.mode == "id":
            assert self.id_emb is not None
            return self.id_emb(ids) * present
        assert self.text_proj is not None
        text = self.tower(tokens) if self.tower is not None else self.text[tokens]
        from_text = self.text_proj(text) * present
        if self.mode == "text":
            return from_text
        assert self.id_emb is not None
        known = self.has_id[tokens].unsqueeze(-1)
        if self.training and self.id_dropout > 0:
            # Train some occurrences through text alone, so the text path learns to
            # stand on its own for items that will never have an ID vector.
            known = known * (torch.rand_like(known) >= self.id_dropout)
        from_id = self.id_emb(ids)
        if self.gate is None:
            return from_text + known * from_id
        g = torch.sigmoid(self.gate(torch.cat([from_id, from_text], dim=-1)))
        mixed = g * from_id + (1 - g) * from_text
        return known * mixed + (1 - known) * from_text

    def all_items(self) -> torch.Tensor:
        """Vectors of every item, (n_items, dim), row i for item index i."""
        device = self.has_id.device
        return self(torch.arange(1, self.n_items + 1, device=device))

    def unscorable(self) -> np.ndarray:
        """Items this representation cannot score (ID-only items never seen in training)."""
        if self.mode != "id":
            return np.zeros(self.n_items, dtype=bool)
        return ~self.has_id[1:].cpu().numpy().astype(bool)


def text_dim(text: np.ndarray | None) -> int:
    return 0 if text is None else int(text.shape[1])


class TextSpec(BaseModel):
    """Where an item's text embedding comes from.

    By default each item-table row is rendered to text by the encoders' default item
    template (or `template`) and embedded by the text encoder configured in `encoder`
    (lmrec.encoders.EncoderConfig values; {} = the bundled all-MiniLM-L6-v2), through the
    on-disk embedding cache. `vectors_column` instead names an item-table column that
    already holds one vector per item (the user's own embeddings).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: item text template, e.g. "{title}[ ({year})][. Genres: {genres}]." (None: default)
    template: str | None = None
    #: settings of the text encoder (lmrec.encoders.EncoderConfig); {} = the default model
    encoder: dict[str, Any] = Field(default_factory=dict)
    #: item-table column holding precomputed vectors (lists/arrays of equal length)
    vectors_column: str | None = None


def item_texts(items: pd.DataFrame, spec: TextSpec) -> list[str]:
    """Each item-table row rendered to text by the spec's template (or the default)."""
    from lmrec.encoders import ItemTextTemplate, default_item_template

    template = ItemTextTemplate(spec.template) if spec.template else default_item_template(items)
    return template.render(items)


def item_text_matrix(items: pd.DataFrame, spec: TextSpec) -> np.ndarray:
    """(n_items, dim) float32 text embeddings of the item table's rows, in index order."""
    if spec.vectors_column is not None:
        return _vectors_from_column(items, spec.vectors_column)
    from lmrec.encoders import EmbeddingCache, encode_cached, get_encoder

    texts = item_texts(items, spec)
    encoder = get_encoder(dict(spec.encoder))
    cache = EmbeddingCache(spec.encoder.get("cache_dir"))
    return np.asarray(encode_cached(encoder, texts, cache), dtype=np.float32)


def _vectors_from_column(items: pd.DataFrame, column: str) -> np.ndarray:
    if column not in items.columns:
        raise DataError(
            f"item table has no column '{column}' for text vectors "
            f"(columns: {', '.join(map(str, items.columns))})",
            field=column,
        )
    cells = items[column].tolist()
    missing = [i for i, v in enumerate(cells) if v is None or np.ndim(v) == 0]
    if missing:
        raise DataError(
            f"{len(missing)} item(s) have no vector in column '{column}' (first: row "
            f"{missing[0]}, item {items['item_id'].iloc[missing[0]]!r}); give every item one",
            field=column,
        )
    try:
        return np.asarray(np.stack([np.asarray(v, dtype=np.float32) for v in cells]))
    except ValueError:
        raise DataError(
            f"vectors in column '{column}' differ in length; give every item the same size",
            field=column,
        ) from None
