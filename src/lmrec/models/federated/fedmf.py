"""fedmf: implicit matrix factorisation trained federatedly. Users are clients: each
solves its own vector from its own interactions and sends the server only a step for
item rows; the server averages the steps (FedAvg), optionally clipped and noised.

The artifact holds the item factors alone. A user's vector is solved from their history
whenever they are scored (fold-in, the same closed form a client uses in training), so
no user vector is stored anywhere. Like every lmrec model the artifact keeps the
training history, which the simulation needs to exclude seen items and to score known
users; a deployment that keeps histories on devices scores them there with
`score_histories` (or `--history`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar, Literal, Self

import numpy as np
import scipy.sparse as sp
from pydantic import Field, model_validator

from lmrec.core.search_space import Float, Int, SearchSpace
from lmrec.data.dataset import Dataset
from lmrec.models.base import ModelConfig, Recommender
from lmrec.models.federated.fcf import SolveSettings, fold_in
from lmrec.models.federated.server import FederatedServer, ServerSettings
from lmrec.models.neighbours.item_item import presence

FEDERATION_FILE = "federation.json"


class FedMFConfig(ModelConfig):
    factors: int = Field(default=32, gt=0)
    #: rounds of federated averaging
    rounds: int = Field(default=100, gt=0)
    #: expected clients per round: each user takes part with probability this / users
    clients_per_round: int = Field(default=100, gt=0)
    #: the server's step along the averaged client steps
    server_lr: float = Field(default=0.5, gt=0)
    #: confidence of an observed interaction (c = 1 + alpha, as ALS)
    alpha: float = Field(default=2.0, gt=0)
    #: ridge penalty of a user's own solve (on the client, and at fold-in)
    user_reg: float = Field(default=10.0, gt=0)
    #: weight decay of the item factors, applied by the server
    item_reg: float = Field(default=0.0, ge=0)
    #: negatives a client samples per own item; 0 sends a step for every item (dense)
    neg_ratio: int = Field(default=4, ge=0)
    #: standard deviation of the random initial item factors
    init_scale: float = Field(default=0.1, gt=0)
    #: "flower": Flower's simulation engine (the `federated` extra); "local": the same
    #: rounds run one client after another in this process
    engine: Literal["flower", "local"] = "flower"
    #: > 0 adds Gaussian noise of std noise_multiplier x clip_norm to each round's sum
    noise_multiplier: float = Field(default=0.0, ge=0)
    #: L2 bound on each client's step (0: no clipping); needed with noise
    clip_norm: float = Field(default=0.0, ge=0)
    #: the delta the spent epsilon is reported at
    dp_delta: float = Field(default=1e-5, gt=0, lt=1)

    @model_validator(mode="after")
    def _noise_needs_a_clip(self) -> Self:
        if self.noise_multiplier > 0 and self.clip_norm <= 0:
            raise ValueError(
                "noise_multiplier > 0 needs clip_norm > 0 (the bound on each client's step "
                "that the noise is scaled to), e.g. --set clip_norm=1"
            )
        return self


class FedMF(Recommender[FedMFConfig]):
    """Federated implicit MF (FCF, Ammad-ud-din et al. 2019) with FedAvg on the items."""

    name = "fedmf"
    state_attrs = ("item_factors_",)
    tuning_grid: ClassVar[dict[str, list[Any]]] = {"server_lr": [0.25, 0.5, 1.0]}
    search_space: ClassVar[SearchSpace] = {
        "factors": Int(8, 128, log=True),
        "server_lr": Float(0.05, 4.0, log=True),
        "user_reg": Float(0.1, 200.0, log=True),
        "rounds": Int(20, 300, log=True),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.item_factors_: np.ndarray | None = None
        #: rounds, clients and bytes of the last fit (saved as federation.json)
        self.federation_: dict[str, Any] | None = None

    @property
    def _solve(self) -> SolveSettings:
        return SolveSettings(alpha=self.config.alpha, user_reg=self.config.user_reg)

    def _fit(self, train: Dataset, valid: Dataset | None) -> None:
        cfg = self.config
        interactions = presence(train.csr)
        server = FederatedServer(
            ServerSettings(
                factors=cfg.factors,
                clients_per_round=cfg.clients_per_round,
                server_lr=cfg.server_lr,
                item_reg=cfg.item_reg,
                init_scale=cfg.init_scale,
                noise_multiplier=cfg.noise_multiplier,
                clip_norm=cfg.clip_norm,
            ),
            n_items=train.n_items,
            n_clients=train.n_users,
            seed=cfg.seed,
        )
        if server.private:  # before the rounds, not after them
            from lmrec.models.federated.accounting import require_accountant

            require_accountant()
        report = self._round_reporter()
        if cfg.engine == "flower":
            from lmrec.models.federated.flower_engine import run_flower

            run_flower(
                server, interactions, self._solve, cfg.neg_ratio, cfg.rounds, cfg.seed,
                cpus=self.options.threads or 1, report=report,
            )  # fmt: skip
        else:
            from lmrec.models.federated.local_engine import run_local

            run_local(
                server, interactions, self._solve, cfg.neg_ratio, cfg.rounds, cfg.seed, report
            )
        self.item_factors_ = server.factors.astype(np.float32)
        self.federation_ = {"engine": cfg.engine, **server.wire.summary()}
        self.privacy_ = None
        if server.private:
            from lmrec.models.federated.accounting import privacy_spent

            self.privacy_ = privacy_spent(
                cfg.noise_multiplier, cfg.clip_norm, cfg.clients_per_round,
                train.n_users, cfg.rounds, cfg.dp_delta,
            )  # fmt: skip

    def _round_reporter(self) -> Any:
        if not (self.options.progress and self.options.report is not None):
            return None
        say, total = self.options.report, self.config.rounds

        def report(r: int) -> None:
            say(f"round {r + 1}/{total}")

        return report

    def _save_extra(self, path: Path) -> None:
        if self.federation_ is not None:
            (path / FEDERATION_FILE).write_text(json.dumps(self.federation_, indent=2))

    def _load_extra(self, path: Path) -> None:
        file = path / FEDERATION_FILE
        self.federation_ = json.loads(file.read_text()) if file.exists() else None

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        self._require_fitted()
        assert self.item_factors_ is not None
        users = fold_in(presence(histories), self.item_factors_, self._solve)
        return np.asarray(users @ self.item_factors_.T, dtype=np.float32)

    def score_users(self, users: np.ndarray) -> np.ndarray:
        assert self.history_ is not None
        return self.score_histories(self.history_[np.asarray(users, dtype=np.int64)])

    def item_vectors(self) -> np.ndarray:
        assert self.item_factors_ is not None
        return self.item_factors_
