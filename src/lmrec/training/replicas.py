"""Data-parallel training: what the epoch loop does differently when it is one of N
processes training the same network (`LoopSettings.replicas`).

Every replica builds the same batches in the same seeded order and takes one batch of
each group of N, so all run the same number of steps; gradients are averaged across the
replicas (an all-reduce) before each optimizer step, which keeps the weights identical
everywhere. The first replica (rank 0) validates and shares its metric, so every replica
stops at the same epoch, and only it writes checkpoints and epoch lines.

Any launcher that sets up a torch.distributed process group can use this; lmrec's is
Ray Train (`lmrec.models.distributed`). torch.distributed is part of torch; nothing here
imports Ray.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

import torch
import torch.distributed as dist
from torch import nn

T = TypeVar("T")


@dataclass(frozen=True)
class Replicas:
    """This process's place among the replicas of one training run."""

    rank: int
    world_size: int
    #: where the small tensors exchanged for metrics live (NCCL only moves GPU tensors)
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @classmethod
    def from_process_group(cls, device: torch.device) -> Replicas:
        """The replicas of the initialised default process group."""
        return cls(dist.get_rank(), dist.get_world_size(), device)

    @property
    def primary(self) -> bool:
        """The replica that validates, reports and writes checkpoints."""
        return self.rank == 0

    def shard(self, batches: Iterable[T]) -> Iterator[T]:
        """This replica's batch of each complete group of `world_size` consecutive batches
        (an incomplete last group is left out, so every replica takes as many steps)."""
        mine: T | None = None
        for i, batch in enumerate(batches):
            if i % self.world_size == self.rank:
                mine = batch
            if i % self.world_size == self.world_size - 1:
                assert mine is not None
                yield mine

    def share_weights(self, module: nn.Module) -> None:
        """Copy the first replica's parameters and buffers into every replica (they start
        equal when seeded alike; this makes sure of it, e.g. after a resume)."""
        for tensor in module.state_dict().values():
            dist.broadcast(tensor, src=0)

    def average_gradients(self, module: nn.Module) -> None:
        """Replace each gradient by its mean over the replicas, in one all-reduce. A
        parameter that took no part in this replica's loss counts as a zero gradient, so
        every replica sends the same layout."""
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            return
        flat = torch.cat(
            [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params]
        )
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for p in params:
            n = p.numel()
            p.grad = flat[offset : offset + n].view_as(p).clone()
            offset += n

    def share_metric(self, metric: float | None) -> float | None:
        """The first replica's validation metric, on every replica (None: no validation)."""
        value = torch.tensor(
            [math.nan if metric is None else metric], dtype=torch.float64, device=self.device
        )
        dist.broadcast(value, src=0)
        shared = float(value.item())
        return None if math.isnan(shared) else shared

    def mean(self, value: float) -> float:
        """The mean of a number over the replicas (the epoch's training loss)."""
        tensor = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return float(tensor.item()) / self.world_size
