"""Next-item losses for large catalogues that keep the quality of the full softmax.

- `chunked_cross_entropy`: the exact softmax cross-entropy over every item, computed a
  chunk of items at a time with activation checkpointing, so the (positions x items)
  logits never exist at once: memory grows with the chunk, not the catalogue, for the
  price of computing each chunk's logits twice.
- `NegativeSampler`: negatives drawn from uniform, popularity (count ** 0.75, as word2vec)
  or a half-half mixture; `logq` is the log of each item's chance of being drawn, which
  the sampled softmax subtracts from every candidate's logit (Jean et al. 2015; Yi et al.
  2019). Without it the sampled loss is biased: uniform negatives are almost never the
  popular items the model must learn to rank below the right one, so the model never
  learns to push them down (measured: validation NDCG fell from the first epoch to the
  second on 1M interactions x 100k items).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import numpy as np
import torch
from torch.utils.checkpoint import checkpoint

Negatives = Literal["uniform", "popularity", "mixed"]

#: items per chunk of the chunked cross-entropy (positions x chunk logits at a time)
DEFAULT_CHUNK = 8192


def chunked_cross_entropy(
    hidden: torch.Tensor,
    table: torch.Tensor,
    targets: torch.Tensor,
    chunk_offset: Callable[[int, int], torch.Tensor] | None = None,
    target_offset: torch.Tensor | None = None,
    chunk: int = DEFAULT_CHUNK,
) -> torch.Tensor:
    """Mean over positions of -log softmax(hidden @ table.T + offset)[target], exactly,
    holding at most (positions x chunk) logits. `chunk_offset(start, stop)` adds scores
    (positions x items start..stop) to the logits, `target_offset` the same scores at each
    position's target (the repeat offset of items already seen)."""

    def part(h: torch.Tensor, rows: torch.Tensor, start: int) -> torch.Tensor:
        logits = h @ rows.T
        if chunk_offset is not None:
            logits = logits + chunk_offset(start, start + rows.shape[0])
        return torch.logsumexp(logits, dim=1)

    parts = [
        checkpoint(part, hidden, table[start : start + chunk], start, use_reentrant=False)
        for start in range(0, table.shape[0], chunk)
    ]
    normaliser = torch.logsumexp(torch.stack(parts, dim=1), dim=1)
    positive = (hidden * table[targets]).sum(dim=1)
    if target_offset is not None:
        positive = positive + target_offset
    return (normaliser - positive).mean()


class NegativeSampler:
    """Draws shared negatives for a batch and knows each item's chance of being drawn."""

    def __init__(self, counts: np.ndarray, kind: Negatives = "uniform") -> None:
        n = len(counts)
        uniform = np.full(n, 1.0 / n)
        weights = np.power(np.maximum(counts, 0).astype(np.float64), 0.75)
        popular = weights / weights.sum() if weights.sum() > 0 else uniform
        probs = {"uniform": uniform, "popularity": popular, "mixed": 0.5 * (uniform + popular)}
        self.kind = kind
        self.probs = probs[kind]
        self._cumulative = np.cumsum(self.probs)
        self._logq = torch.from_numpy(np.log(np.maximum(self.probs, 1e-30)).astype(np.float32))

    def draw(self, rng: np.random.Generator, k: int) -> np.ndarray:
        """k item indices (with replacement) from the sampling distribution."""
        if self.kind == "uniform":
            return rng.integers(0, len(self.probs), k)
        picks = np.searchsorted(self._cumulative, rng.random(k) * self._cumulative[-1])
        return np.minimum(picks, len(self.probs) - 1)

    def logq(self, items: torch.Tensor) -> torch.Tensor:
        """log of each item's chance of being drawn (items are indices, not tokens)."""
        return self._logq.to(items.device)[items]
