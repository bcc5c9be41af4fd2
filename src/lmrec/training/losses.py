"""Losses for next-item and pointwise training.

- full softmax cross-entropy over every item (the "SASRec + CE" recipe) is torch's own
  cross_entropy over the logits, called directly by the sequence task;
- sampled softmax over a shared set of uniformly drawn negatives (cheap with 100k+ items);
- gBCE (Petrov & Macdonald, gSASRec, RecSys 2023): binary cross-entropy on the same
  negatives with the positive's probability raised to beta, which undoes the
  overconfidence that negative sampling causes; beta = alpha * (t * (1 - 1/alpha) + 1/alpha)
  with alpha = n_negatives / (n_items - 1) and calibration t in [0, 1];
- binary cross-entropy for pointwise models (NCF).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def sampled_logits(
    hidden: torch.Tensor,
    positive: torch.Tensor,
    negative: torch.Tensor,
    targets: torch.Tensor,
    negative_ids: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Positive logits (N,) and negative logits (N, K); a negative equal to the row's
    target is pushed to -inf so it neither competes nor is penalised."""
    pos = (hidden * positive).sum(-1)
    neg = hidden @ negative.T
    neg = neg.masked_fill(negative_ids[None, :] == targets[:, None], float("-inf"))
    return pos, neg


def sampled_softmax_ce(pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    logits = torch.cat([pos[:, None], neg], dim=1)
    zeros = torch.zeros(len(pos), dtype=torch.long, device=pos.device)
    return F.cross_entropy(logits, zeros)


def gbce_beta(n_negatives: int, n_items: int, t: float) -> float:
    alpha = n_negatives / max(n_items - 1, 1)
    return alpha * (t * (1 - 1 / alpha) + 1 / alpha)


def gbce(pos: torch.Tensor, neg: torch.Tensor, beta: float) -> torch.Tensor:
    """Generalised binary cross-entropy; -inf negatives (collisions) add nothing."""
    pos_term = -beta * F.logsigmoid(pos)
    neg_term = -F.logsigmoid(-neg).sum(dim=1)  # logsigmoid(+inf) == 0 for masked entries
    return (pos_term + neg_term).mean()


def binary_ce(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    return F.binary_cross_entropy_with_logits(logits, labels)
