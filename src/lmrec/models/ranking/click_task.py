"""Inputs of the click network as tensors, and its training task for the shared loop.

The per-item arrays (codes, genres, text) and the per-user ones (codes, text profile)
stay whole on the device; a batch is a set of pair indices gathered from them, so the
(pairs x text dim) matrices never exist at once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from lmrec.models.ranking.click_net import ClickBatch
from lmrec.models.ranking.features import PairBlock, UserSide
from lmrec.training.losses import binary_ce


@dataclass
class ItemTensors:
    codes: torch.Tensor  # (n_items, 2) long
    genres: torch.Tensor  # (n_items, G)
    text: torch.Tensor  # (n_items, d)

    @classmethod
    def of(
        cls, codes: np.ndarray, genres: np.ndarray, text: np.ndarray, device: torch.device
    ) -> ItemTensors:
        return cls(
            torch.as_tensor(codes, dtype=torch.long, device=device),
            torch.as_tensor(genres, dtype=torch.float32, device=device),
            torch.as_tensor(text, dtype=torch.float32, device=device),
        )


@dataclass
class PairTensors:
    """One PairBlock and its UserSide on the device."""

    user_rows: torch.Tensor
    items: torch.Tensor
    rank_bucket: torch.Tensor
    dense: torch.Tensor
    user_codes: torch.Tensor
    profile: torch.Tensor

    @classmethod
    def of(cls, block: PairBlock, side: UserSide, device: torch.device) -> PairTensors:
        def t(a: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
            return torch.as_tensor(a, dtype=dtype, device=device)

        return cls(
            t(block.user_rows, torch.long),
            t(block.items, torch.long),
            t(block.rank_bucket, torch.long),
            t(block.dense, torch.float32),
            t(side.codes, torch.long),
            t(side.profile, torch.float32),
        )

    def __len__(self) -> int:
        return len(self.items)

    def batch(self, items: ItemTensors, pick: torch.Tensor | slice) -> ClickBatch:
        rows, item = self.user_rows[pick], self.items[pick]
        return ClickBatch(
            user_codes=self.user_codes[rows],
            item_codes=items.codes[item],
            rank_bucket=self.rank_bucket[pick],
            genres=items.genres[item],
            dense=self.dense[pick],
            item_text=items.text[item],
            user_text=self.profile[rows],
        )


class ClickTask:
    """Binary cross-entropy on (user, candidate) pairs labelled click / no click."""

    def __init__(
        self,
        net: torch.nn.Module,
        pairs: PairTensors,
        labels: np.ndarray,
        items: ItemTensors,
        batch_size: int,
        validate: Callable[[], float | None],
    ) -> None:
        self.net, self.pairs, self.items = net, pairs, items
        self.labels = torch.as_tensor(labels, dtype=torch.float32, device=pairs.items.device)
        self.batch_size = batch_size
        self._validate = validate

    def batches(self, rng: np.random.Generator) -> Iterator[tuple[ClickBatch, torch.Tensor]]:
        order = torch.as_tensor(rng.permutation(len(self.pairs)), device=self.labels.device)
        for start in range(0, len(order), self.batch_size):
            pick = order[start : start + self.batch_size]
            yield self.pairs.batch(self.items, pick), self.labels[pick]

    def loss(self, batch: tuple[ClickBatch, torch.Tensor]) -> torch.Tensor:
        inputs, labels = batch
        return binary_ce(self.net(inputs), labels)

    def validate(self) -> float | None:
        return self._validate()


def predict_logits(
    net: torch.nn.Module, pairs: PairTensors, items: ItemTensors, chunk: int = 1 << 15
) -> np.ndarray:
    """Click logits of every pair, in chunks (network in eval mode, no grad)."""
    out = np.empty(len(pairs), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, len(pairs), chunk):
            part = slice(start, start + chunk)
            out[part] = net(pairs.batch(items, part)).float().cpu().numpy()
    return out
