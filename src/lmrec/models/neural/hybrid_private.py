"""The hybrid model's task for private training (lmrec.training.private): one user's
loss is the softmax cross-entropy of up to `per_user` of their items against all items,
with their own vector (the local parameter) and the shared item side."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch.func import functional_call

from lmrec.models.neural.hybrid_net import HybridNet

_TOWER = "text_tower."


class HybridUserTask:
    """Per-user examples and loss of the hybrid network (see UserLossTask)."""

    #: the user embedding: each row is one user's own vector
    local: str | None = "user.weight"

    def __init__(
        self,
        net: HybridNet,
        rows: sp.csr_matrix,
        *,
        per_user: int,
        reg: float,
        id_dropout: float,
        device: torch.device,
        validate: Callable[[], float | None],
    ) -> None:
        self.net, self.device, self._validate = net, device, validate
        self.rows = sp.csr_matrix(rows)
        self.n_users, self.n_items = self.rows.shape
        self.per_user, self.reg, self.id_dropout = per_user, reg, id_dropout

    def examples(self, users: np.ndarray, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        """(items, mask): up to `per_user` items of each user, drawn without replacement
        (the bound on what one user contributes to a step), padded with item 0."""
        m = self.per_user
        items = np.zeros((len(users), m), dtype=np.int64)
        mask = np.zeros((len(users), m), dtype=np.float32)
        indptr, indices = self.rows.indptr, self.rows.indices
        for r, u in enumerate(users):
            own = indices[indptr[u] : indptr[u + 1]]
            if len(own) > m:
                own = rng.choice(own, m, replace=False)
            items[r, : len(own)] = own
            mask[r, : len(own)] = 1.0
        return torch.from_numpy(items).to(self.device), torch.from_numpy(mask).to(self.device)

    def step_inputs(self, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        """The ID dropout mask of the step, drawn from `rng` alone."""
        keep = (rng.random(self.n_items) >= self.id_dropout).astype(np.float32)
        return (torch.from_numpy(keep).to(self.device),)

    def user_loss(
        self,
        params: dict[str, torch.Tensor],
        own: torch.Tensor | None,
        shared_inputs: tuple[torch.Tensor, ...],
        *example: torch.Tensor,
    ) -> torch.Tensor:
        assert own is not None
        (keep,) = shared_inputs
        items, mask = example
        tower = {k[len(_TOWER) :]: v for k, v in params.items() if k.startswith(_TOWER)}
        table = functional_call(self.net.text_tower, tower, (self.net.text,))
        ids = params.get("item.weight")  # absent when items are read by text alone
        if ids is not None:
            table = table + keep[:, None] * ids
        user = torch.cat([own, torch.ones_like(own[:1])])
        logp = F.log_softmax(table @ user, dim=0)
        n = mask.sum().clamp(min=1.0)
        fit = -(logp[items] * mask).sum() / n
        penalty = own.pow(2).sum() + (table[items].pow(2).sum(1) * mask).sum() / n
        return fit + self.reg * penalty

    def validate(self) -> float | None:
        return self._validate()
