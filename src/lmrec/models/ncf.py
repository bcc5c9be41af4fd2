"""NCF / NeuMF (He et al., 2017): a generalised matrix factorisation branch and an MLP
branch over user and item embeddings, joined by one output unit with a sigmoid; trained
with binary cross-entropy on observed pairs and sampled unobserved ones."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import torch
from pydantic import Field
from torch import nn

from lmrec.data.dataset import Dataset
from lmrec.models.base import ModelConfig, Recommender
from lmrec.models.torch_common import (
    TorchTrainConfig,
    flatten_state,
    load_flat_state,
    resolve_device,
    seed_everything,
    torch_threads,
)
from lmrec.training.loop import TrainResult, run_training
from lmrec.training.pointwise_task import PointwiseTask
from lmrec.training.validation import ndcg_at_k, users_with_targets

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


class NCF(Recommender):
    """Neural collaborative filtering (NeuMF); scores known users only (no fold-in)."""

    name = "ncf"
    config_class: ClassVar[type[ModelConfig]] = NCFConfig
    state_attrs = ("weights_",)
    tuning_grid: ClassVar[dict[str, list[Any]]] = {"factors": [16, 64], "n_negatives": [4, 8]}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.weights_: np.ndarray | None = None
        self.net_: NeuMF | None = None
        self.training_: TrainResult | None = None
        self._device: torch.device | None = None

    @property
    def cfg(self) -> NCFConfig:
        assert isinstance(self.config, NCFConfig)
        return self.config

    def _fit(self, train: Dataset, valid: Dataset | None) -> None:
        cfg = self.cfg
        device = resolve_device(cfg.device)
        with torch_threads(cfg.threads):
            seed_everything(cfg.seed)
            self.net_ = NeuMF(train.n_users, train.n_items, cfg).to(device)
            self._device = device
            task = PointwiseTask(
                self.net_,
                train.binary_csr,
                cfg.n_negatives,
                cfg.batch_size,
                device,
                validate=self._validator(train, valid),
            )
            self.training_ = run_training(self.net_, task, cfg.loop_settings(device))
        self.weights_ = flatten_state(self.net_)

    def _validator(self, train: Dataset, valid: Dataset | None) -> Any:
        if valid is None or valid.n_interactions == 0:
            return lambda: None
        rng = np.random.default_rng([self.cfg.seed, 1])
        users = users_with_targets(valid.binary_csr, self.cfg.valid_users, rng)
        seen, targets = train.binary_csr, valid.binary_csr
        return lambda: ndcg_at_k(self.score_users, users, seen, targets, k=10)

    def _after_load(self) -> None:
        assert self.weights_ is not None
        net = NeuMF(self.n_users, self.n_items, self.cfg)
        load_flat_state(net, self.weights_)
        self._device = resolve_device(self.cfg.device)
        self.net_ = net.to(self._device).eval()

    @torch.no_grad()
    def score_users(self, users: np.ndarray) -> np.ndarray:
        self._require_fitted()
        assert self.net_ is not None and self._device is not None
        self.net_.eval()
        users = np.asarray(users, dtype=np.int64)
        out = np.empty((len(users), self.n_items), dtype=np.float32)
        step = max(1, _SCORES_PER_PASS // self.n_items)
        with torch_threads(self.cfg.threads):
            for start in range(0, len(users), step):
                chunk = torch.from_numpy(users[start : start + step]).to(self._device)
                out[start : start + len(chunk)] = self.net_.score_all(chunk).cpu().numpy()
        return out

    def item_vectors(self) -> np.ndarray | None:
        self._require_fitted()
        assert self.net_ is not None
        return self.net_.gmf_item.weight.detach().cpu().numpy().copy()
