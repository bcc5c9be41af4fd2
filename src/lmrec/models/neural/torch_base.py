"""What every torch model shares: the training hyper-parameters, the fit skeleton
(device, threads, seed, network, task, the shared epoch loop, export), validation for
early stopping, and parameters as NumPy arrays so artifacts stay JSON + npz.

Only the torch model modules import this file, so `import lmrec` never loads torch.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np
import torch
from pydantic import Field
from torch import nn

from lmrec.core.threads import torch_threads
from lmrec.core.validation import ScoreFn, ndcg_at_k, users_with_targets
from lmrec.data.dataset import Dataset
from lmrec.errors import ArtifactError, UnsupportedError
from lmrec.models.base import ModelConfig, Recommender
from lmrec.training.device import resolve_device, seed_everything
from lmrec.training.loop import EpochTask, LoopSettings, TrainResult, run_training
from lmrec.training.private import PrivacyConfig, UserLossTask, run_private_training


class TorchTrainConfig(ModelConfig):
    """Hyper-parameters of the shared epoch loop. Where and how fast it runs (device,
    threads, progress, checkpoints) are run options (lmrec.core.options.FitOptions)."""

    #: most epochs; with validation data training usually stops earlier, without it
    #: all of them are run
    epochs: int = Field(50, ge=1)
    batch_size: int = Field(128, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    #: epochs without a better (or equal) validation NDCG@10 before stopping
    patience: int = Field(10, ge=1)
    #: per-step decay of a moving average of the weights that is validated and kept
    #: instead of the raw weights (None: no average)
    ema_decay: float | None = Field(None, gt=0.0, lt=1.0)
    #: validation users scored per epoch for early stopping (seeded subsample)
    valid_users: int | None = Field(10_000, ge=1)


TC = TypeVar("TC", bound=TorchTrainConfig)


class TorchRecommender(Recommender[TC]):
    """Base of the torch models. A subclass builds the network to train (`_build`) and
    its training task (`_task`); `_prepare` computes what the network needs from the
    data, `_export` turns the trained network into the state that is saved and served."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.net_: nn.Module | None = None
        self.training_: TrainResult | None = None
        self._device: torch.device | None = None

    # ---- what subclasses provide ---------------------------------------------------------
    def _prepare(self, train: Dataset) -> None:
        """Derived arrays the network is built from (before seeding and building)."""

    @abstractmethod
    def _build(self, train: Dataset, device: torch.device) -> nn.Module:
        """The network to train, on `device`."""

    @abstractmethod
    def _task(
        self, net: nn.Module, train: Dataset, valid: Dataset | None, device: torch.device
    ) -> EpochTask:
        """Batches, loss and validation of one epoch for the shared loop."""

    @abstractmethod
    def _export(self, net: nn.Module) -> None:
        """Keep the trained network as the state that is saved and served."""

    def _private_task(
        self, net: nn.Module, train: Dataset, valid: Dataset | None, device: torch.device
    ) -> UserLossTask:
        """Per-user examples and loss for private training (models that offer it)."""
        raise UnsupportedError(f"model '{self.name}' cannot train privately")

    # ---- the skeleton --------------------------------------------------------------------
    def _fit(self, train: Dataset, valid: Dataset | None) -> None:
        device = resolve_device(self.options.device)
        self._prepare(train)
        with torch_threads(self.options.threads):
            seed_everything(self.config.seed)
            net = self._build(train, device)
            self.net_, self._device = net, device
            privacy: PrivacyConfig | None = getattr(self.config, "privacy", None)
            if self.config.epochs > 0 and privacy is not None:
                private = self._private_task(net, train, valid, device)
                self.training_, spent = run_private_training(
                    net, private, self._loop_settings(device), privacy
                )
                self.privacy_ = spent.to_json()
            elif self.config.epochs > 0:  # 0: a model started from another one, used as is
                task = self._task(net, train, valid, device)
                self.training_ = run_training(net, task, self._loop_settings(device))
            net.eval()
            self._export(net)

    def training_history(self) -> list[dict[str, float]]:
        if self.training_ is None:
            return []
        records = []
        for r in self.training_.history:
            record = {"epoch": float(r.epoch + 1), "loss": r.loss, "seconds": r.seconds}
            if r.metric is not None:
                record["valid_ndcg@10"] = r.metric
            records.append(record)
        return records

    def _loop_settings(self, device: torch.device) -> LoopSettings:
        cfg, run = self.config, self.options
        return LoopSettings(
            epochs=cfg.epochs,
            lr=cfg.lr,
            weight_decay=cfg.weight_decay,
            patience=cfg.patience,
            ema_decay=cfg.ema_decay,
            seed=cfg.seed,
            device=device,
            progress=run.progress,
            checkpoint_dir=run.checkpoint_dir,
            resume=run.resume,
            report=run.report,
            on_epoch=run.on_epoch,
            replicas=run.replicas,
        )

    def _validator(
        self, train: Dataset, valid: Dataset | None, score: ScoreFn | None = None
    ) -> Callable[[], float | None]:
        """Validation NDCG@10 on a seeded sample of validation users (None: no data)."""
        if valid is None or valid.n_interactions == 0:
            return lambda: None
        rng = np.random.default_rng([self.config.seed, 1])
        users = users_with_targets(valid.binary_csr, self.config.valid_users, rng)
        seen, targets = train.binary_csr, valid.binary_csr
        fn = score or self.score_users
        return lambda: ndcg_at_k(fn, users, seen, targets, k=10)


class NetworkRecommender(TorchRecommender[TC]):
    """A torch model that serves its network: the trained weights are saved as one flat
    array (`weights_`) and the network is rebuilt from them on load, on the device chosen
    where it is loaded (never the one it was trained on)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.weights_: np.ndarray | None = None

    @abstractmethod
    def _new_net(self, device: torch.device) -> nn.Module:
        """The network on `device`, built from the config and the prepared state."""

    def _build(self, train: Dataset, device: torch.device) -> nn.Module:
        return self._new_net(device)

    def _export(self, net: nn.Module) -> None:
        self.weights_ = flatten_state(net)

    def _after_load(self) -> None:
        assert self.weights_ is not None
        self._device = resolve_device(self.options.device)
        net = self._new_net(torch.device("cpu"))
        load_flat_state(net, self.weights_)
        self.net_ = net.to(self._device).eval()


# ---- parameters <-> NumPy -------------------------------------------------------------------
def flatten_state(module: nn.Module) -> np.ndarray:
    """All persistent parameters and buffers of a module as one float32 vector (in
    state_dict order), so the artifact holds plain arrays and no pickle."""
    parts = [t.detach().to("cpu", torch.float32).reshape(-1) for t in module.state_dict().values()]
    if not parts:
        return np.zeros(0, dtype=np.float32)
    return torch.cat(parts).numpy().copy()


def load_flat_state(module: nn.Module, flat: np.ndarray) -> None:
    """Inverse of `flatten_state` for a module built with the same config."""
    state = module.state_dict()
    expected = sum(t.numel() for t in state.values())
    if flat.size != expected:
        raise ArtifactError(
            f"saved parameters have {flat.size} values but the model built from its config "
            f"needs {expected}; the artifact does not match its model.json"
        )
    tensor = torch.from_numpy(np.ascontiguousarray(flat, dtype=np.float32))
    offset = 0
    new_state: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        n = value.numel()
        new_state[key] = tensor[offset : offset + n].view(value.shape).to(value.dtype)
        offset += n
    module.load_state_dict(new_state)
