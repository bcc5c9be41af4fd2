"""NCF / NeuMF (He et al., 2017): a generalised matrix factorisation branch and an MLP
branch over user and item embeddings, joined by one output unit with a sigmoid; trained
with binary cross-entropy on observed pairs and sampled unobserved ones."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field
from torch import nn

from lmrec.core.threads import torch_threads
from lmrec.data.dataset import Dataset
from lmrec.models.neural.torch_base import (
    NetworkRecommender,
    TorchTrainConfig,
    flatten_state,
    load_flat_state,
)
from lmrec.training.loop import EpochTask
from lmrec.training.pointwise_task import PointwiseTask

#: user x item scores computed per forward pass when scoring (bounds memory)
_SCORES_PER_PASS = 1 << 20


class NCFConfig(TorchTrainConfig):
    epochs: int = Field(30, ge=1)
    batch_size: int = Field(1024, ge=1)
    patience: int = Field(5, ge=1)
    #: size of the GMF embeddings
    factors: int = Field(32, ge=1)
    #: MLP widths; the first is the concatenated user+item embedding size
    layers: tuple[int, ...] = (64, 32, 16)
    dropout: float = Field(0.0, ge=0.0, lt=1.0)
    #: sampled unobserved items per observed pair
    n_negatives: int = Field(4, ge=1)


class NeuMF(nn.Module):
    def __init__(self, n_users: int, n_items: int, cfg: NCFConfig) -> None:
        super().__init__()
        half = cfg.layers[0] // 2
        self.gmf_user = nn.Embedding(n_users, cfg.factors)
        self.gmf_item = nn.Embedding(n_items, cfg.factors)
        self.mlp_user = nn.Embedding(n_users, half)
        self.mlp_item = nn.Embedding(n_items, half)
        for emb in (self.gmf_user, self.gmf_item, self.mlp_user, self.mlp_item):
            nn.init.normal_(emb.weight, std=0.01)
        mlp: list[nn.Module] = []
        for w_in, w_out in zip((2 * half, *cfg.layers[1:]), cfg.layers[1:], strict=False):
            mlp += [nn.Dropout(cfg.dropout), nn.Linear(w_in, w_out), nn.ReLU()]
        self.mlp = nn.Sequential(*mlp)
        self.out = nn.Linear(cfg.factors + (cfg.layers[-1] if len(cfg.layers) > 1 else 2 * half), 1)

    def forward(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Logits for (user, item) pairs."""
        gmf = self.gmf_user(users) * self.gmf_item(items)
        mlp = self.mlp(torch.cat([self.mlp_user(users), self.mlp_item(items)], dim=-1))
        return self.out(torch.cat([gmf, mlp], dim=-1)).squeeze(-1)

    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        """Probabilities (len(users), n_items) for every item."""
        n_items = self.gmf_item.num_embeddings
        u = users[:, None].expand(-1, n_items)
        i = torch.arange(n_items, device=users.device)[None, :].expand(len(users), -1)
        return torch.sigmoid(self(u, i))


class NCF(NetworkRecommender[NCFConfig]):
    """Neural collaborative filtering (NeuMF); scores known users only (no fold-in)."""

    name = "ncf"
    state_attrs = ("weights_",)
    tuning_grid: ClassVar[dict[str, list[Any]]] = {"factors": [16, 64], "n_negatives": [4, 8]}

    def _new_net(self, device: torch.device) -> NeuMF:
        return NeuMF(self.n_users, self.n_items, self.config).to(device)

    def _task(
        self, net: nn.Module, train: Dataset, valid: Dataset | None, device: torch.device
    ) -> EpochTask:
        cfg = self.config
        return PointwiseTask(
            net,
            train.binary_csr,
            cfg.n_negatives,
            cfg.batch_size,
            device,
            validate=self._validator(train, valid),
        )

    def _forget_rows(self, users: np.ndarray) -> None:
        """Also zero these users' embedding rows (the network holds them, not `user_*`)."""
        net = self._new_net(torch.device("cpu"))
        assert self.weights_ is not None
        load_flat_state(net, self.weights_)
        with torch.no_grad():
            for emb in (net.gmf_user, net.mlp_user):
                emb.weight[torch.from_numpy(np.asarray(users, dtype=np.int64))] = 0.0
        self.weights_ = flatten_state(net)
        super()._forget_rows(users)

    def _network(self) -> NeuMF:
        assert isinstance(self.net_, NeuMF)
        return self.net_

    @torch.no_grad()
    def score_users(self, users: np.ndarray) -> np.ndarray:
        self._require_fitted()
        net = self._network()
        assert self._device is not None
        net.eval()
        users = np.asarray(users, dtype=np.int64)
        out = np.empty((len(users), self.n_items), dtype=np.float32)
        step = max(1, _SCORES_PER_PASS // self.n_items)
        with torch_threads(self.options.threads):
            for start in range(0, len(users), step):
                chunk = torch.from_numpy(users[start : start + step]).to(self._device)
                out[start : start + len(chunk)] = net.score_all(chunk).cpu().numpy()
        return out

    def item_vectors(self) -> np.ndarray:
        self._require_fitted()
        return self._network().gmf_item.weight.detach().cpu().numpy().copy()
