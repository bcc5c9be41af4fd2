"""Inputs of the click network as tensors, and its training task for the shared loop.

The per-item arrays (codes, genres, text) and the per-user ones (codes, text profile)
stay whole on the device; a batch is a set of pair indices gathered from them, so the
(pairs x text dim) matrices never exist at once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch

from lmrec.models.ranking.click_net import ClickBatch, ClickNet
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
    """Binary cross-entropy on (user, candidate) pairs labelled click / no click, plus
    (with `list_weight` > 0) a listwise term per user: the softmax cross-entropy of the
    user's clicked candidates among all of theirs (ListNet-style, Cao et al. 2007).
    Cross-entropy alone calibrates the probabilities (AUC, log-loss); the listwise term
    asks only for the order within each user's list, which is what the ranking is.

    A batch is a set of users with all of their candidates."""

    def __init__(
        self,
        net: torch.nn.Module,
        pairs: PairTensors,
        labels: np.ndarray,
        items: ItemTensors,
        batch_size: int,
        validate: Callable[[], float | None],
        list_weight: float = 0.0,
    ) -> None:
        self.net, self.pairs, self.items = net, pairs, items
        device = pairs.items.device
        self.labels = torch.as_tensor(labels, dtype=torch.float32, device=device)
        rows = pairs.user_rows.cpu().numpy()
        n_rows = int(rows.max(initial=-1)) + 1
        counts = np.bincount(rows, minlength=n_rows)
        # (users, most candidates) pair indices, -1 = padding; pairs come grouped by user
        width = int(counts.max(initial=1))
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
        order = np.argsort(rows, kind="stable")
        slot = np.arange(len(rows)) - starts[rows[order]]
        table = np.full((n_rows, width), -1, dtype=np.int64)
        table[rows[order], slot] = order
        self.table = torch.as_tensor(table, device=device)
        # users per batch so that a batch holds about batch_size pairs
        self.users_per_batch = max(1, batch_size // width)
        self.list_weight = list_weight
        self._validate = validate

    def batches(
        self, rng: np.random.Generator
    ) -> Iterator[tuple[ClickBatch, torch.Tensor, torch.Tensor]]:
        order = torch.as_tensor(rng.permutation(len(self.table)), device=self.table.device)
        for start in range(0, len(order), self.users_per_batch):
            table = self.table[order[start : start + self.users_per_batch]]
            pick = table[table >= 0]
            yield self.pairs.batch(self.items, pick), self.labels[pick], table

    def loss(self, batch: tuple[ClickBatch, torch.Tensor, torch.Tensor]) -> torch.Tensor:
        inputs, labels, table = batch
        logits = self.net(inputs)  # (B, heads); labels likewise
        loss = binary_ce(logits, labels)
        if self.list_weight <= 0:
            return loss
        heads = [_listwise(logits[:, t], labels[:, t], table) for t in range(logits.shape[1])]
        return loss + self.list_weight * torch.stack(heads).mean()

    def validate(self) -> float | None:
        return self._validate()


def _listwise(logits: torch.Tensor, labels: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Mean over users with a click of the softmax cross-entropy of their clicks among
    their candidates (0 when no user in the batch has one)."""
    present = table >= 0
    grid = torch.full(table.shape, -torch.inf, device=logits.device)
    grid[present] = logits
    clicks = torch.zeros(table.shape, device=logits.device)
    clicks[present] = labels
    n_clicks = clicks.sum(dim=1)
    with_clicks = n_clicks > 0
    if not bool(with_clicks.any()):
        return logits.sum() * 0.0
    log_p = torch.log_softmax(grid[with_clicks], dim=1)
    log_p = torch.where(present[with_clicks], log_p, torch.zeros_like(log_p))
    listwise = -(clicks[with_clicks] * log_p).sum(dim=1) / n_clicks[with_clicks]
    return listwise.mean()


def predict_logits(
    net: ClickNet, pairs: PairTensors, items: ItemTensors, chunk: int = 1 << 15
) -> np.ndarray:
    """Click logits (pairs, heads) of every pair, in chunks (eval mode, no grad)."""
    out = np.empty((len(pairs), net.n_tasks), dtype=np.float32)
    with torch.no_grad():
        for start in range(0, len(pairs), chunk):
            part = slice(start, start + chunk)
            out[part] = net(pairs.batch(items, part)).float().cpu().numpy()
    return out
