"""The network and training task of the hybrid model (see lmrec.models.neural.hybrid).

Vectors are augmented so that a score is one inner product: item = [factors, bias],
user = [factors, 1].
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn


class TextTower(nn.Module):
    """Frozen text embedding -> [factors, bias]: a linear map, or an MLP with one hidden
    layer when `hidden` > 0."""

    def __init__(self, text_dim: int, factors: int, hidden: int = 0) -> None:
        super().__init__()
        if hidden:
            self.net: nn.Module = nn.Sequential(
                nn.Linear(text_dim, hidden), nn.GELU(), nn.Linear(hidden, factors + 1)
            )
        else:
            self.net = nn.Linear(text_dim, factors + 1)

    def forward(self, text: torch.Tensor) -> torch.Tensor:
        return self.net(text)


class HybridNet(nn.Module):
    """item i = text_tower(t_i) + ID embedding of i (when it has interactions and is not
    dropped out this step); user u = [ID embedding of u + attribute_proj(text of u's
    attributes), 1]."""

    def __init__(
        self,
        n_users: int,
        item_text: np.ndarray,
        has_id: np.ndarray,
        user_text: np.ndarray | None,
        *,
        factors: int,
        text_hidden: int,
        id_dropout: float,
    ) -> None:
        super().__init__()
        d, text_dim = factors, item_text.shape[1]
        self.id_dropout = id_dropout
        self.user = nn.Embedding(n_users, d)
        self.item = nn.Embedding(len(item_text), d + 1)
        nn.init.normal_(self.user.weight, std=0.1)
        nn.init.normal_(self.item.weight, std=0.1)
        with torch.no_grad():
            self.item.weight[:, -1].zero_()
        self.text_tower = TextTower(text_dim, d, text_hidden)
        self.text: torch.Tensor  # buffers, registered below
        self.has_id: torch.Tensor
        self.user_text: torch.Tensor
        # Frozen inputs are buffers that are not saved: the model keeps them as arrays.
        self.register_buffer("text", torch.from_numpy(item_text), persistent=False)
        known = torch.from_numpy(np.asarray(has_id, dtype=np.float32))
        self.register_buffer("has_id", known, persistent=False)
        self.attribute_proj: nn.Linear | None = None
        if user_text is not None:
            self.attribute_proj = nn.Linear(user_text.shape[1], d, bias=False)
            self.register_buffer("user_text", torch.from_numpy(user_text), persistent=False)

    def items(self, idx: torch.Tensor | None = None) -> torch.Tensor:
        """Augmented item vectors of `idx` (every item when None)."""
        if idx is None:
            idx = torch.arange(self.item.num_embeddings, device=self.has_id.device)
        keep = self.has_id[idx]
        if self.training and self.id_dropout > 0:
            # Some items go through their text alone, so that the text tower learns to
            # stand for items that will never have an ID vector.
            keep = keep * (torch.rand_like(keep) >= self.id_dropout)
        return self.text_tower(self.text[idx]) + keep[:, None] * self.item(idx)

    def users(self, idx: torch.Tensor) -> torch.Tensor:
        """Augmented user vectors."""
        u = self.user(idx)
        if self.attribute_proj is not None:
            u = u + self.attribute_proj(self.user_text[idx])
        return torch.cat([u, torch.ones_like(u[:, :1])], dim=1)


class PairTask:
    """One epoch = every (user, item) training pair once, in shuffled batches.

    softmax: cross-entropy of the pair's item against all items (or `n_negatives`
    uniformly drawn items shared by the batch); bpr: one uniform negative per pair.
    `reg` is an L2 penalty on the vectors each step uses.
    """

    def __init__(
        self,
        net: HybridNet,
        pairs: sp.csr_matrix,
        *,
        loss: str,
        n_negatives: int,
        batch_size: int,
        reg: float,
        device: torch.device,
        validate: Callable[[], float | None],
    ) -> None:
        coo = pairs.tocoo()
        self.users, self.items = coo.row.astype(np.int64), coo.col.astype(np.int64)
        self.net, self.device, self._validate = net, device, validate
        self.kind, self.n_negatives, self.batch_size, self.reg = loss, n_negatives, batch_size, reg
        self.n_items = pairs.shape[1]

    def batches(self, rng: np.random.Generator) -> Iterator[Any]:
        order = rng.permutation(len(self.users))
        for start in range(0, len(order), self.batch_size):
            pick = order[start : start + self.batch_size]
            if self.kind == "bpr":
                extra = rng.integers(0, self.n_items, len(pick))
            elif self.n_negatives:
                extra = rng.integers(0, self.n_items, min(self.n_negatives, self.n_items))
            else:
                extra = np.zeros(0, dtype=np.int64)
            yield tuple(
                torch.from_numpy(a).to(self.device)
                for a in (self.users[pick], self.items[pick], extra)
            )

    def loss(self, batch: Any) -> torch.Tensor:
        users, items, extra = batch
        u = self.net.users(users)
        penalty = _sq(u[:, :-1])
        if self.kind == "bpr":
            pos, neg = self.net.items(items), self.net.items(extra)
            diff = (u * (pos - neg)).sum(1)
            return -F.logsigmoid(diff).mean() + self.reg * (penalty + _sq(pos) + _sq(neg))
        if self.n_negatives:
            pos, neg = self.net.items(items), self.net.items(extra)
            neg_logits = (u @ neg.T).masked_fill(extra[None, :] == items[:, None], float("-inf"))
            logits = torch.cat([(u * pos).sum(1, keepdim=True), neg_logits], dim=1)
            target = torch.zeros(len(items), dtype=torch.long, device=items.device)
            return F.cross_entropy(logits, target) + self.reg * (penalty + _sq(pos))
        table = self.net.items()
        return F.cross_entropy(u @ table.T, items) + self.reg * (penalty + _sq(table[items]))

    def validate(self) -> float | None:
        return self._validate()


def _sq(x: torch.Tensor) -> torch.Tensor:
    """Mean squared length of the rows."""
    return x.pow(2).sum(1).mean()


def fold_in(
    histories: sp.csr_matrix,
    item_vectors: np.ndarray,
    *,
    steps: int,
    lr: float,
    reg: float,
) -> np.ndarray:
    """User factors (n, factors) for rows of a user x item matrix with the items
    (n_items, factors + 1, bias last) held fixed: `steps` Adam steps of the training
    loss (softmax over all items) of each row's items, L2 penalty `reg`, from zero."""
    rows = sp.csr_matrix(histories)
    n = rows.shape[0]
    weights = torch.zeros(rows.shape, dtype=torch.float32)
    row_of = torch.from_numpy(np.repeat(np.arange(n), np.diff(rows.indptr)))
    weights[row_of, torch.from_numpy(rows.indices.astype(np.int64))] = 1.0
    items = torch.from_numpy(np.ascontiguousarray(item_vectors, dtype=np.float32))
    factors, bias = items[:, :-1], items[:, -1]
    counts = weights.sum(1).clamp(min=1)
    user = torch.zeros((n, factors.shape[1]), dtype=torch.float32, requires_grad=True)
    optimizer = torch.optim.Adam([user], lr=lr)
    with torch.enable_grad():
        for _ in range(steps):
            optimizer.zero_grad()
            logp = torch.log_softmax(user @ factors.T + bias, dim=1)
            nll = -(weights * logp).sum(1) / counts
            (nll.sum() + reg * user.pow(2).sum()).backward()
            optimizer.step()
    return user.detach().numpy()
