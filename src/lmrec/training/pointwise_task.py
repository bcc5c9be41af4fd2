"""Pointwise training with sampled negatives (NCF, He et al. 2017): each observed
(user, item) pair is a positive, paired with `n_negatives` items the user has not
interacted with, drawn uniformly afresh every epoch; loss is binary cross-entropy."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from lmrec.training.losses import binary_ce

#: redraws of negatives that hit an observed item before accepting the rest as they are
_REDRAWS = 5


@dataclass
class PointwiseBatch:
    users: torch.Tensor
    items: torch.Tensor
    labels: torch.Tensor


class PointwiseTask:
    def __init__(
        self,
        net: nn.Module,
        observed: sp.csr_matrix,
        n_negatives: int,
        batch_size: int,
        device: torch.device,
        validate: Callable[[], float | None] = lambda: None,
    ) -> None:
        coo = observed.tocoo()
        self.net, self.device, self.batch_size = net, device, batch_size
        self.users = coo.row.astype(np.int64)
        self.items = coo.col.astype(np.int64)
        self.n_items, self.n_negatives = observed.shape[1], n_negatives
        self.keys = np.sort(self.users * self.n_items + self.items)  # observed pairs
        self._validate = validate

    def sample_negatives(self, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """(users, items) of n_negatives unobserved pairs per positive."""
        users = np.repeat(self.users, self.n_negatives)
        items = rng.integers(0, self.n_items, len(users))
        for _ in range(_REDRAWS):
            clash = self._observed(users, items)
            if not clash.any():
                break
            items[clash] = rng.integers(0, self.n_items, int(clash.sum()))
        return users, items

    def _observed(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        keys = users * self.n_items + items
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        return self.keys[pos] == keys

    def batches(self, rng: np.random.Generator) -> Iterator[PointwiseBatch]:
        neg_users, neg_items = self.sample_negatives(rng)
        users = np.concatenate([self.users, neg_users])
        items = np.concatenate([self.items, neg_items])
        labels = np.concatenate([np.ones(len(self.users)), np.zeros(len(neg_users))])
        order = rng.permutation(len(users))
        for start in range(0, len(order), self.batch_size):
            pick = order[start : start + self.batch_size]
            yield PointwiseBatch(
                torch.from_numpy(users[pick]).to(self.device),
                torch.from_numpy(items[pick]).to(self.device),
                torch.from_numpy(labels[pick].astype(np.float32)).to(self.device),
            )

    def loss(self, batch: PointwiseBatch) -> torch.Tensor:
        return binary_ce(self.net(batch.users, batch.items), batch.labels)

    def validate(self) -> float | None:
        return self._validate()
