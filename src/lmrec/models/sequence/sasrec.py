"""SASRec: causal self-attention over the user's item sequence (Kang & McAuley, 2018),
trained by default with full-softmax cross-entropy at every position (the "SASRec + CE"
recipe of Klenitskiy & Vasilev, 2023), or with sampled softmax / gBCE for large
catalogues (Petrov & Macdonald, gSASRec, 2023).

Items are represented by an ID embedding, a frozen text embedding through a learned
projection, or both (see `ItemRepresentation`); input and output share that table.
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import nn

from lmrec.core.search_space import Choice, Float, Int, SearchSpace
from lmrec.data.dataset import Dataset
from lmrec.errors import ConfigError
from lmrec.models.neural.item_repr import ItemRepresentation
from lmrec.models.sequence.base import SequenceNetwork, SequentialConfig, SequentialRecommender
from lmrec.models.sequence.private_task import SequenceUserTask
from lmrec.training.private import PrivacyConfig


class SASRecConfig(SequentialConfig):
    n_layers: int = Field(2, ge=1)
    heads: int = Field(2, ge=1)
    #: feed-forward width inside each block (None: 4 x hidden)
    inner: int | None = Field(None, ge=1)
    #: learn, per head, a penalty on attention logits growing with the distance between
    #: query and key positions, so heads can favour the most recent items. With it (and
    #: without absolute positions) ml-100k leave-one-out validation NDCG@10 rose from
    #: 0.113 to 0.122 (mean of 3 seeds), and the seeds agreed far more closely.
    recency_bias: bool = True
    #: learned absolute position embeddings, counted back from the newest item. Off by
    #: default: in training a position's index says how far it is from the end of its
    #: window, which only the last position shares with scoring time; the recency
    #: penalty carries order as a relative distance, the same in training and scoring.
    positions: bool = False
    #: train with DP-SGD to this privacy budget, one user as the unit (`--set
    #: privacy.epsilon=8`; see lmrec.training.private); None: not private
    privacy: PrivacyConfig | None = None


class CausalBlock(nn.Module):
    """Pre-norm transformer block: causal self-attention (torch's fused
    scaled_dot_product_attention) and a GELU feed-forward, each with dropout and a
    residual. Written out rather than nn.TransformerEncoderLayer because that layer
    needs a per-head copy of a per-row mask and drops out the full attention matrix,
    which made an epoch several times slower on CPU."""

    def __init__(self, hidden: int, heads: int, inner: int, dropout: float) -> None:
        super().__init__()
        self.heads = heads
        self.norm1, self.norm2 = nn.LayerNorm(hidden), nn.LayerNorm(hidden)
        self.qkv = nn.Linear(hidden, 3 * hidden)
        self.proj = nn.Linear(hidden, hidden)
        self.ff = nn.Sequential(nn.Linear(hidden, inner), nn.GELU(), nn.Linear(inner, hidden))
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        """`allowed`: boolean (B, 1, L, L) mask, or float additive bias (B, heads, L, L)."""
        batch, length, hidden = x.shape
        q, k, v = (
            self.qkv(self.norm1(x))
            .view(batch, length, 3, self.heads, hidden // self.heads)
            .permute(2, 0, 3, 1, 4)
        )
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
        att = att.transpose(1, 2).reshape(batch, length, hidden)
        x = x + self.dropout(self.proj(att))
        return x + self.dropout(self.ff(self.norm2(x)))


class SASRecNet(SequenceNetwork):
    """Tokens (B, L) left-padded, L <= max_len -> states (B, L, hidden)."""

    def __init__(self, items: ItemRepresentation, cfg: SASRecConfig) -> None:
        super().__init__()
        if cfg.hidden % cfg.heads:
            raise ConfigError(f"hidden ({cfg.hidden}) must be divisible by heads ({cfg.heads})")
        self.items, self.max_len = items, cfg.max_len
        self.positions: nn.Embedding | None = None
        if cfg.positions:
            self.positions = nn.Embedding(cfg.max_len, cfg.hidden)
            # on the items' scale: torch's default N(0, 1) would drown the item signal
            nn.init.normal_(self.positions.weight, std=cfg.hidden**-0.5)
        self.input_norm = nn.LayerNorm(cfg.hidden)
        self.dropout = nn.Dropout(cfg.dropout)
        inner = cfg.inner or 4 * cfg.hidden
        self.blocks = nn.ModuleList(
            CausalBlock(cfg.hidden, cfg.heads, inner, cfg.dropout) for _ in range(cfg.n_layers)
        )
        self.final_norm = nn.LayerNorm(cfg.hidden)
        # Per-head slopes (through softplus), initialised geometrically as in ALiBi
        # (Press et al., 2022) so heads start out looking at different spans.
        self.recency: nn.Parameter | None = None
        if cfg.recency_bias:
            start = torch.tensor([2.0 ** (-8 * (h + 1) / cfg.heads) for h in range(cfg.heads)])
            self.recency = nn.Parameter(torch.log(torch.expm1(start)))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        length = tokens.shape[1]
        # Positions count back from the newest item, so a trimmed batch (fewer leading
        # pads) gives the same states as a full-width one.
        x = self.items(tokens)
        if self.positions is not None:
            pos = torch.arange(self.max_len - length, self.max_len, device=tokens.device)
            x = x + self.positions(pos)[None]
        x = self.dropout(self.input_norm(x))
        allowed = self._allowed(tokens)
        if self.recency is not None:
            allowed = self._with_recency(allowed, length)
        for block in self.blocks:
            x = block(x, allowed)
        return self.final_norm(x) * (tokens > 0).unsqueeze(-1)

    def _with_recency(self, allowed: torch.Tensor, length: int) -> torch.Tensor:
        """Float mask (B, heads, L, L): -slope_h x distance where allowed, -inf elsewhere."""
        assert self.recency is not None
        idx = torch.arange(length, device=allowed.device)
        distance = (idx[:, None] - idx[None, :]).clamp(min=0).to(self.recency.dtype)
        bias = -F.softplus(self.recency)[:, None, None] * distance[None]
        return bias[None].masked_fill(~allowed, float("-inf"))

    @staticmethod
    def _allowed(tokens: torch.Tensor) -> torch.Tensor:
        """(B, 1, L, L) True = may attend: earlier or same position, not padding. Every
        position may attend to itself, so padding rows are never fully blocked (NaN)."""
        length = tokens.shape[1]
        idx = torch.arange(length, device=tokens.device)
        past = idx[None, :] <= idx[:, None]
        real_key = (tokens > 0)[:, None, :]
        itself = torch.eye(length, dtype=torch.bool, device=tokens.device)[None]
        return ((past[None] & real_key) | itself).unsqueeze(1)


class SASRec(SequentialRecommender[SASRecConfig]):
    """Self-attentive sequential recommender; fold-in of new sequences without refit."""

    name = "sasrec"
    tuning_grid: ClassVar[dict[str, list[Any]]] = {"dropout": [0.2, 0.5], "hidden": [64, 128]}
    search_space: ClassVar[SearchSpace] = {
        "hidden": Choice((32, 64, 128)),
        "n_layers": Int(1, 3),
        "dropout": Float(0.1, 0.6),
        "lr": Float(3e-4, 1e-2, log=True),
    }

    def _build_net(self, items: ItemRepresentation) -> SequenceNetwork:
        return SASRecNet(items, self.config)

    def _private_task(
        self, net: nn.Module, train: Dataset, valid: Dataset | None, device: torch.device
    ) -> SequenceUserTask:
        """Private training: each user's last privacy.per_user items (at most max_len),
        next-item cross-entropy over all items."""
        privacy = self.config.privacy
        assert privacy is not None and isinstance(net, SequenceNetwork)
        return SequenceUserTask(
            net,
            self.sequences(),
            self.n_items,
            per_user=min(privacy.per_user, self.config.max_len),
            device=device,
            validate=self._validator(train, valid),
        )
