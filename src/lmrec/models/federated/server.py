"""The server's side of a federated fit: the item factors, which clients take part in a
round (Poisson sampling), FedAvg of their steps with optional clipping and noise, and
an honest count of what went over the wire. Engines (Flower, in-process) only move the
messages."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lmrec.models.federated.fcf import ClientUpdate, average, clip


@dataclass(frozen=True)
class ServerSettings:
    factors: int
    clients_per_round: int
    server_lr: float
    item_reg: float
    init_scale: float
    noise_multiplier: float
    clip_norm: float


@dataclass
class WireLog:
    """Bytes of array payload (.npy) per client message; Flower's message framing is not
    counted."""

    rounds: int = 0
    messages: int = 0
    bytes_down: int = 0
    bytes_up: int = 0

    def summary(self) -> dict[str, float | int]:
        per = max(self.messages, 1)
        return {
            "rounds": self.rounds,
            "client_rounds": self.messages,
            "mean_clients_per_round": round(self.messages / max(self.rounds, 1), 2),
            "bytes_down_per_client_round": round(self.bytes_down / per, 1),
            "bytes_up_per_client_round": round(self.bytes_up / per, 1),
            "bytes_down_total": self.bytes_down,
            "bytes_up_total": self.bytes_up,
        }


class FederatedServer:
    def __init__(self, settings: ServerSettings, n_items: int, n_clients: int, seed: int):
        self.settings = settings
        self.n_items = n_items
        self.n_clients = n_clients
        self._rng = np.random.default_rng([seed, 1])
        self._noise_rng = np.random.default_rng([seed, 2])
        self.factors = self._rng.normal(0.0, settings.init_scale, (n_items, settings.factors))
        self.wire = WireLog()

    @property
    def sample_rate(self) -> float:
        return min(1.0, self.settings.clients_per_round / self.n_clients)

    @property
    def private(self) -> bool:
        return self.settings.noise_multiplier > 0

    def sample(self, population: int) -> np.ndarray:
        """Positions (in 0..population) of this round's clients: each one independently
        with the sample rate (Poisson sampling, what the privacy accountant assumes)."""
        return np.flatnonzero(self._rng.random(population) < self.sample_rate)

    def broadcast(self) -> np.ndarray:
        """The item factors every chosen client downloads (float32)."""
        return self.factors.astype(np.float32)

    def finish_round(self, updates: list[ClientUpdate], bytes_down: int, bytes_up: int) -> None:
        s = self.settings
        if s.clip_norm > 0:
            updates = [clip(u, s.clip_norm) for u in updates]
        noise_std = s.noise_multiplier * s.clip_norm if self.private else 0.0
        mean_step = average(
            updates,
            self.n_items,
            s.factors,
            expected_clients=self.sample_rate * self.n_clients,
            noise_std=noise_std,
            rng=self._noise_rng,
        )
        self.factors += s.server_lr * (mean_step - s.item_reg * self.factors)
        self.wire.rounds += 1
        self.wire.messages += len(updates)
        self.wire.bytes_down += bytes_down
        self.wire.bytes_up += bytes_up
