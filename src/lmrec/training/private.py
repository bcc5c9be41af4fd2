"""Differentially private training (DP-SGD) with one user as the unit of privacy.

Each step samples users independently with probability q (Poisson sampling; the sampling
and the noise draw on the operating system's randomness, not the config's seed), takes at
most `per_user` of each sampled user's interactions, computes every user's gradient of
the shared parameters separately (torch.func: vmap of grad), clips it to length
`max_grad_norm`, sums, adds Gaussian noise of standard deviation sigma * max_grad_norm
and divides by the expected number of users per step before the optimiser sees it.
Opacus chooses sigma for the target (epsilon, delta) and the planned number of steps,
and accounts what was spent (its RDP or PRV accountant).

Parameters that belong to one user (a user's own vector) are not shared: they are
updated from that user's gradient alone, without noise, and are never part of another
user's gradient except through the noised shared parameters. The guarantee is therefore
joint differential privacy (the billboard model): the shared parameters, and so everyone
else's recommendations, are (epsilon, delta)-DP with respect to each user's whole data,
while a user's own vector depends on their own data. The model files still hold the
training interactions and those user vectors: keep them as private as the data.

Validation data is read for the epoch report only: training runs every planned epoch
and keeps the last weights, since choosing the best epoch on user data would spend
privacy that is not accounted for.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from lmrec.core.privacy import GUARANTEE, USER_LEVEL
from lmrec.errors import ConfigError, UnsupportedError
from lmrec.training.checkpoint import EpochRecord
from lmrec.training.loop import LoopSettings, TrainResult


class PrivacyConfig(BaseModel):
    """`--set privacy.epsilon=E`: train with DP-SGD to this budget."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: the privacy budget; smaller is more private (1: strong, 8: common in practice)
    epsilon: float = Field(gt=0)
    #: chance the guarantee fails (None: 1 / number of training users)
    delta: float | None = Field(None, gt=0, lt=1)
    #: a user's gradient is clipped to this length before the noise is added (the hybrid
    #: model's per-user gradients measure about 0.23 at the start on ml-100k; a bound far
    #: above them only adds noise)
    max_grad_norm: float = Field(0.25, gt=0)
    #: users per step on average (sampling rate = this / number of users, at most 1);
    #: 128 beat 943 (every user, every step) on ml-100k at epsilon 8: more, noisier steps
    users_per_step: int = Field(128, ge=1)
    #: most interactions of one user a step reads (sampled without replacement)
    per_user: int = Field(64, ge=1)
    #: how the spent budget is computed: Renyi DP ("rdp") or the tighter numerical
    #: privacy-loss-distribution accountant ("prv")
    accountant: Literal["rdp", "prv"] = "rdp"


@dataclass
class PrivacySpent:
    """What a private training spent, as stored in the model's metadata."""

    epsilon: float
    delta: float
    target_epsilon: float
    accountant: str
    unit: str
    noise_multiplier: float
    sample_rate: float
    steps: int
    max_grad_norm: float
    per_user: int
    guarantee: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class UserLossTask(Protocol):
    """What a model gives the private loop: its users, their examples and the loss of
    one user's example as a function of the parameters (vmap-able: no data-dependent
    shapes)."""

    n_users: int
    #: names of parameters that belong to one user each (row u = user u), e.g. a user
    #: embedding; updated without noise from that user's gradient alone
    local: str | None

    def examples(self, users: np.ndarray, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        """Fixed-shape tensors, one row per user, at most `per_user` interactions each."""
        ...

    def step_inputs(self, rng: np.random.Generator) -> tuple[torch.Tensor, ...]:
        """Inputs shared by every user of a step (e.g. a dropout mask), drawn from `rng`
        alone: nothing here may depend on the data."""
        ...

    def user_loss(
        self,
        params: dict[str, torch.Tensor],
        own: torch.Tensor | None,
        shared_inputs: tuple[torch.Tensor, ...],
        *example: torch.Tensor,
    ) -> torch.Tensor:
        """The scalar loss of one user's example (`own`: their row of the local
        parameter, or None)."""
        ...

    def validate(self) -> float | None: ...


def noise_for(config: PrivacyConfig, n_users: int, epochs: int) -> tuple[float, float, float, int]:
    """(noise multiplier, delta, sampling rate, steps) that spend `config.epsilon` over
    `epochs` passes of Poisson-sampled users."""
    try:
        from opacus.accountants.utils import get_noise_multiplier
    except ImportError:
        raise UnsupportedError(
            "private training (privacy.epsilon) needs Opacus: pip install 'lmrec[privacy]'"
        ) from None
    if n_users < 2:
        raise ConfigError("private training needs at least 2 users")
    delta = config.delta if config.delta is not None else 1.0 / n_users
    rate = min(1.0, config.users_per_step / n_users)
    steps = max(1, round(epochs / rate))
    sigma = get_noise_multiplier(
        target_epsilon=config.epsilon,
        target_delta=delta,
        sample_rate=rate,
        steps=steps,
        accountant=config.accountant,
        epsilon_tolerance=0.01,
        **accountant_options(config.accountant),
    )
    return float(sigma), delta, rate, steps


class _Stepper:
    """One DP-SGD step at a time: sample users, per-user gradients, clip, noise, update."""

    def __init__(
        self, module: nn.Module, task: UserLossTask, settings: LoopSettings, config: PrivacyConfig
    ) -> None:
        self.task, self.config = task, config
        self.sigma, self.delta, self.rate, self.steps = noise_for(
            config, task.n_users, settings.epochs
        )
        params = dict(module.named_parameters())
        self.shared = {n: p for n, p in params.items() if p.requires_grad and n != task.local}
        self.optimizer = torch.optim.AdamW(
            list(self.shared.values()), lr=settings.lr, weight_decay=settings.weight_decay
        )
        self.own = params[task.local] if task.local else None
        self.own_optimizer = (
            torch.optim.Adam([self.own], lr=settings.lr) if self.own is not None else None
        )
        self.per_user_grad = _per_user_gradients(task, self.own is not None)
        # Which users a step samples and the noise come from the operating system, never
        # from the config's seed: whoever knew the seed (it is in model.json) could
        # subtract the noise, and knowing who was sampled voids the amplification the
        # accounting counts on. So private trainings are not repeatable.
        self.noise = torch.Generator(device=settings.device)
        self.noise.manual_seed(secrets.randbits(63))
        self.sampling = np.random.default_rng(secrets.randbits(128))
        self.expected = self.rate * task.n_users

    def step(self, chunk: int) -> float:
        """One step; returns the mean loss of the sampled users."""
        rng = self.sampling
        users = np.flatnonzero(rng.random(self.task.n_users) < self.rate)
        inputs = self.task.step_inputs(rng)
        summed = {n: torch.zeros_like(p) for n, p in self.shared.items()}
        params = {n: p.detach() for n, p in self.shared.items()}
        own_grads: list[torch.Tensor] = []
        loss_sum = 0.0
        for start in range(0, len(users), chunk):
            part = users[start : start + chunk]
            example = self.task.examples(part, rng)
            own = None if self.own is None else self.own.detach()[_index(part, self.own)]
            grads, own_grad, losses = self.per_user_grad(params, own, inputs, example)
            _clip_and_add(grads, self.config.max_grad_norm, summed)
            if own_grad is not None:
                own_grads.append(own_grad)
            loss_sum += float(losses.sum())
        self.optimizer.zero_grad(set_to_none=True)
        std = self.sigma * self.config.max_grad_norm
        for name, p in self.shared.items():
            noise = torch.randn(p.shape, generator=self.noise, device=p.device)
            p.grad = (summed[name] + std * noise) / self.expected
        self.optimizer.step()
        if self.own is not None and self.own_optimizer is not None and own_grads:
            # each sampled user's own row moves by their gradient alone: nobody else's
            # parameters change by it, so it needs no noise
            grad = torch.zeros_like(self.own)
            grad[_index(users, self.own)] = torch.cat(own_grads)
            self.own_optimizer.zero_grad(set_to_none=True)
            self.own.grad = grad
            self.own_optimizer.step()
        return loss_sum / max(len(users), 1)


def _index(rows: np.ndarray, like: torch.Tensor) -> torch.Tensor:
    return torch.from_numpy(np.asarray(rows, dtype=np.int64)).to(like.device)


#: Renyi orders the RDP accountant tries: Opacus's default list has 99 fractional orders,
#: each far slower to evaluate than an integer one (a minute for one calibration on a busy
#: machine); four fractional orders keep the small-epsilon end about as tight
RDP_ORDERS = [1.1, 1.25, 1.5, 1.75, *range(2, 65), 80, 96, 128, 256]


def accountant_options(accountant: str) -> dict[str, Any]:
    return {"alphas": RDP_ORDERS} if accountant == "rdp" else {}


def run_private_training(
    module: nn.Module,
    task: UserLossTask,
    settings: LoopSettings,
    config: PrivacyConfig,
    chunk: int = 64,
) -> tuple[TrainResult, PrivacySpent]:
    """Train `module` with DP-SGD (AdamW on the noised gradient) for `settings.epochs`
    epochs; returns the usual training record and what was spent."""
    from opacus.accountants import create_accountant

    stepper = _Stepper(module, task, settings, config)
    accountant = create_accountant(config.accountant)

    def spent_so_far(accountant: Any) -> float:
        return float(accountant.get_epsilon(stepper.delta, **accountant_options(config.accountant)))

    history: list[EpochRecord] = []
    per_epoch = max(1, round(stepper.steps / settings.epochs))
    done = 0
    for epoch in range(settings.epochs):
        started, cpu_started = time.perf_counter(), time.process_time()
        module.train()
        total, count = 0.0, 0
        last = epoch == settings.epochs - 1
        for _ in range(stepper.steps - done if last else per_epoch):
            total += stepper.step(chunk)
            accountant.step(noise_multiplier=stepper.sigma, sample_rate=stepper.rate)
            done, count = done + 1, count + 1
        module.eval()
        with torch.no_grad():
            metric = task.validate()
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        history.append(EpochRecord(epoch, total / max(count, 1), metric, seconds, cpu))
        if settings.progress and settings.report is not None:
            shown = "-" if metric is None else f"{metric:.4f}"
            settings.report(
                f"epoch {epoch + 1}/{settings.epochs}: loss {total / max(count, 1):.4f}, "
                f"{settings.metric_name} {shown}, epsilon spent {spent_so_far(accountant):.2f} "
                f"({seconds:.1f}s)"
            )
        if settings.on_epoch is not None:
            settings.on_epoch(epoch, metric)
    spent = PrivacySpent(
        epsilon=spent_so_far(accountant),
        delta=stepper.delta,
        target_epsilon=config.epsilon,
        accountant=config.accountant,
        unit=USER_LEVEL,
        noise_multiplier=stepper.sigma,
        sample_rate=stepper.rate,
        steps=done,
        max_grad_norm=config.max_grad_norm,
        per_user=config.per_user,
        guarantee=GUARANTEE,
    )
    result = TrainResult(
        best_epoch=settings.epochs - 1,
        best_metric=history[-1].metric if history else None,
        epochs_run=settings.epochs,
        stopped_early=False,
        history=history,
    )
    return result, spent


def _per_user_gradients(
    task: UserLossTask, has_own: bool
) -> Callable[..., tuple[dict[str, torch.Tensor], torch.Tensor | None, torch.Tensor]]:
    """A function (shared params, own rows, step inputs, example) -> per-user gradients
    of the shared parameters, per-user gradients of the own rows, per-user losses."""
    from torch.func import grad_and_value, vmap

    def one(params: dict[str, torch.Tensor], own: Any, inputs: Any, *ex: torch.Tensor) -> Any:
        return task.user_loss(params, own, inputs, *ex)

    def run(
        params: dict[str, torch.Tensor],
        own: torch.Tensor | None,
        inputs: tuple[torch.Tensor, ...],
        example: tuple[torch.Tensor, ...],
    ) -> tuple[dict[str, torch.Tensor], torch.Tensor | None, torch.Tensor]:
        if has_own:
            assert own is not None
            fn = vmap(
                grad_and_value(one, argnums=(0, 1)),
                in_dims=(None, 0, None, *[0] * len(example)),
                randomness="same",
            )
            (grads, own_grad), losses = fn(params, own, inputs, *example)
            return grads, own_grad, losses
        fn = vmap(
            grad_and_value(one, argnums=0),
            in_dims=(None, None, None, *[0] * len(example)),
            randomness="same",
        )
        grads, losses = fn(params, None, inputs, *example)
        return grads, None, losses

    return run


def _clip_and_add(
    grads: dict[str, torch.Tensor], max_norm: float, into: dict[str, torch.Tensor]
) -> None:
    """Clip each user's gradient (over all shared parameters) to `max_norm` and add the
    clipped gradients into `into`."""
    if not grads:
        return
    n = next(iter(grads.values())).shape[0]
    squares = torch.zeros(n, device=next(iter(grads.values())).device)
    for g in grads.values():
        squares += g.reshape(n, -1).pow(2).sum(1)
    scale = (max_norm / (squares.sqrt() + 1e-6)).clamp(max=1.0)
    for name, g in grads.items():
        into[name] += torch.einsum("n,n...->...", scale, g)
