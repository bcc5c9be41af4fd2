"""SASRec's task for private training (lmrec.training.private): one user's example is the
last `per_user` + 1 items of their sequence, one left-padded window; their loss is the
next-item cross-entropy over all items at every position of it. The network holds no
per-user parameter, so all of it is trained with noise."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from lmrec.core.sequences import left_pad
from lmrec.models.neural.item_repr import REPEAT_SCALE
from lmrec.models.sequence.base import SequenceNetwork


class _StatesAndTable(nn.Module):
    """The network's states for tokens and every item's vector, in one call, so that
    torch.func.functional_call can run both with the parameters it is given."""

    def __init__(self, net: SequenceNetwork) -> None:
        super().__init__()
        self.net = net

    def forward(self, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        items = self.net.items
        return self.net(tokens), items.all_items()


class SequenceUserTask:
    """Per-user windows and loss of a sequence network (see UserLossTask)."""

    local: str | None = None

    def __init__(
        self,
        net: SequenceNetwork,
        sequences: list[np.ndarray],
        n_items: int,
        *,
        per_user: int,
        device: torch.device,
        validate: Callable[[], float | None],
    ) -> None:
        self.whole = _StatesAndTable(net)
        self.device, self._validate = device, validate
        self.n_users, self.n_items = len(sequences), n_items
        # the last per_user + 1 items of each user: per_user predictions at most
        self.windows = left_pad(sequences, per_user + 1)
        width = per_user + 1
        if self.windows.shape[1] < width:
            pad = np.zeros((len(self.windows), width - self.windows.shape[1]), np.int64)
            self.windows = np.concatenate([pad, self.windows], axis=1)

    def examples(self, users: np.ndarray, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        rows = self.windows[users]
        inputs = rows[:, :-1]
        targets = np.where(inputs > 0, rows[:, 1:], 0)
        return (
            torch.from_numpy(np.ascontiguousarray(inputs)).to(self.device),
            torch.from_numpy(np.ascontiguousarray(targets)).to(self.device),
        )

    def step_inputs(self, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        return ()

    def user_loss(
        self,
        params: dict[str, torch.Tensor],
        own: torch.Tensor | None,
        shared_inputs: tuple[torch.Tensor, ...],
        *example: torch.Tensor,
    ) -> torch.Tensor:
        inputs, targets = example
        named = {f"net.{k}": v for k, v in params.items()}
        buffers = {f"net.{k}": v for k, v in self.whole.net.named_buffers()}
        states, table = functional_call(self.whole, {**named, **buffers}, (inputs[None],))
        logits = states[0] @ table.T  # (L, n_items)
        repeat = params.get("items.repeat_raw")
        if repeat is not None:  # the learned offset of items already in the history
            # items read so far at each position (token t is item t - 1)
            tokens = torch.arange(1, self.n_items + 1, device=inputs.device)
            read = (inputs[:, None] == tokens[None, :]).to(logits.dtype)
            seen = read.cummax(dim=0).values
            logits = logits + repeat * REPEAT_SCALE * seen
        mask = (targets > 0).to(logits.dtype)
        loss = F.cross_entropy(logits, (targets - 1).clamp(min=0), reduction="none")
        return (loss * mask).sum() / mask.sum().clamp(min=1.0)

    def validate(self) -> float | None:
        return self._validate()
