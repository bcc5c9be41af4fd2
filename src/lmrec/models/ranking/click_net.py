"""Click models over the pair features of `lmrec.models.ranking.features`.

Every input becomes a field with a `dim`-sized vector: the categorical codes (age band,
gender, occupation, release decade, the item, the retriever's rank bucket) by embedding,
genres by the mean of their embeddings, each dense value x by x times a learned vector,
and the item's text embedding and the user's text profile by a linear projection without
bias (a missing text gives a zero field). On those fields:

- `lr`: logistic regression (one weight per feature value, no interactions);
- `fm`: a factorisation machine (Rendle, 2010): lr plus the sum of the dot products of
  every pair of fields, computed as (sum^2 - sum of squares) / 2;
- `deepfm` (Guo et al., IJCAI 2017): fm plus an MLP over the concatenated fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from lmrec.models.ranking.features import DENSE, RANK_BUCKETS, USER_COLUMNS

Arch = Literal["lr", "fm", "deepfm"]


@dataclass(frozen=True)
class Vocab:
    """Sizes of the categorical inputs (each includes code 0, unknown)."""

    user: tuple[int, ...]  # one per USER_COLUMNS
    decades: int
    items: int
    genres: int
    text_dim: int
    #: dense per-pair values: DENSE plus one per extra signal model
    n_dense: int = len(DENSE)


@dataclass
class ClickBatch:
    user_codes: torch.Tensor  # (B, 3) long
    item_codes: torch.Tensor  # (B, 2) long: decade, item
    rank_bucket: torch.Tensor  # (B,) long
    genres: torch.Tensor  # (B, G) float multi-hot
    dense: torch.Tensor  # (B, n_dense) float
    item_text: torch.Tensor  # (B, text_dim)
    user_text: torch.Tensor  # (B, text_dim)


class ClickNet(nn.Module):
    def __init__(
        self,
        vocab: Vocab,
        arch: Arch = "deepfm",
        dim: int = 16,
        hidden: tuple[int, ...] = (128, 64),
        dropout: float = 0.1,
        n_tasks: int = 1,
    ) -> None:
        super().__init__()
        self.arch = arch
        self.n_tasks = n_tasks
        sizes = [*vocab.user, vocab.decades, vocab.items, RANK_BUCKETS]
        assert len(vocab.user) == len(USER_COLUMNS)
        self.cat = nn.ModuleList(nn.Embedding(n, dim) for n in sizes)
        self.cat_w = nn.ModuleList(nn.Embedding(n, n_tasks) for n in sizes)
        self.genre = nn.Parameter(torch.randn(vocab.genres, dim) * 0.01)
        self.genre_w = nn.Parameter(torch.zeros(vocab.genres, n_tasks))
        self.dense = nn.Parameter(torch.randn(vocab.n_dense, dim) * 0.01)
        self.dense_w = nn.Linear(vocab.n_dense, n_tasks)  # its bias is the model's global bias
        self.item_text = nn.Linear(vocab.text_dim, dim, bias=False)
        self.user_text = nn.Linear(vocab.text_dim, dim, bias=False)
        self.text_w = nn.Linear(2 * vocab.text_dim, n_tasks, bias=False)
        # first-order weights start at zero (plain logistic regression's start), so no
        # random projection of the text outweighs the retriever's score at the start
        nn.init.zeros_(self.text_w.weight)
        nn.init.zeros_(self.dense_w.weight)
        nn.init.normal_(self.item_text.weight, std=0.01)
        nn.init.normal_(self.user_text.weight, std=0.01)
        for emb in self.cat:
            assert isinstance(emb, nn.Embedding)
            nn.init.normal_(emb.weight, std=0.01)
        for emb in self.cat_w:
            assert isinstance(emb, nn.Embedding)
            nn.init.zeros_(emb.weight)
        n_fields = len(sizes) + 1 + vocab.n_dense + 2
        layers: list[nn.Module] = []
        width = n_fields * dim
        for h in hidden if arch == "deepfm" else ():
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(dropout)]
            width = h
        self.mlp = nn.Sequential(*layers, nn.Linear(width, n_tasks)) if arch == "deepfm" else None

    def _cats(self, batch: ClickBatch) -> list[torch.Tensor]:
        return [
            *batch.user_codes.unbind(dim=1),
            *batch.item_codes.unbind(dim=1),
            batch.rank_bucket,
        ]

    def forward(self, batch: ClickBatch) -> torch.Tensor:
        """Click logits (B, n_tasks): one column per head. The fields and the MLP's
        hidden layers are shared by the heads (a shared bottom); each head has its own
        first-order weights and output unit, and the pairwise (FM) term is common."""
        cats = self._cats(batch)
        genre_count = batch.genres.sum(dim=1, keepdim=True).clamp(min=1.0)
        texts = torch.cat([batch.item_text, batch.user_text], dim=1)
        first = (
            sum(w(c) for w, c in zip(self.cat_w, cats, strict=True))
            + (batch.genres @ self.genre_w) / genre_count
            + self.dense_w(batch.dense)
            + self.text_w(texts)
        )
        assert isinstance(first, torch.Tensor)
        if self.arch == "lr":
            return first
        fields = torch.stack(
            [
                *(e(c) for e, c in zip(self.cat, cats, strict=True)),
                (batch.genres @ self.genre) / genre_count,
                *(batch.dense[:, :, None] * self.dense[None]).unbind(dim=1),
                self.item_text(batch.item_text),
                self.user_text(batch.user_text),
            ],
            dim=1,
        )  # (B, F, dim)
        summed = fields.sum(dim=1)
        pairs = 0.5 * (summed.pow(2) - fields.pow(2).sum(dim=1)).sum(dim=1, keepdim=True)
        out = first + pairs
        if self.mlp is not None:
            out = out + self.mlp(fields.flatten(1))
        return out
