"""The privacy a noised federated fit spent, from Flower's RDP accountant (which runs
Google's dp-accounting): Poisson-sampled Gaussian releases, one per round, with one user
(one client, all of their interactions) as the unit."""

from __future__ import annotations

from typing import Any

from lmrec.core.privacy import GUARANTEE, USER_LEVEL
from lmrec.errors import ConfigError
from lmrec.models.federated.flower_engine import INSTALL_HINT

MECHANISM = (
    "DP-FedAvg (McMahan et al. 2018): each client's item step clipped to clip_norm, "
    "Gaussian noise of std noise_multiplier x clip_norm added by the server to the sum, "
    "divided by the expected number of clients; clients Poisson-sampled each round. "
    "Central DP: the server that adds the noise sees each clipped step and which item "
    "rows it touches."
)


def require_accountant() -> Any:
    """Flower's serverapp module, which holds the accountant, or an error naming the extra."""
    try:
        from flwr import serverapp
    except ImportError:
        raise ConfigError(
            "accounting the epsilon of noise_multiplier > 0 needs Flower's accountant and "
            f"dp-accounting: {INSTALL_HINT}"
        ) from None
    return serverapp


def privacy_spent(
    noise_multiplier: float,
    clip_norm: float,
    clients_per_round: int,
    n_users: int,
    rounds: int,
    delta: float,
) -> dict[str, Any]:
    flower = require_accountant()
    sample_size = min(clients_per_round, n_users)
    accountant = flower.RdpAccountant(
        flower.PrivacyConfig(
            target_delta=delta,
            population_size=n_users,
            neighboring_relation=flower.NeighboringRelation.ADD_OR_REMOVE_ONE,
            sampling_method=flower.SamplingMethod.POISSON,
        )
    )
    accountant.compose(flower.GaussianPrivacyEvent(noise_multiplier, sample_size, n_users), rounds)
    return {
        "epsilon": float(accountant.get_epsilon(delta)),
        "delta": delta,
        "accountant": "rdp (Flower's RdpAccountant, dp-accounting)",
        "unit": USER_LEVEL,
        "per_user": "all",
        "noise_multiplier": noise_multiplier,
        "max_grad_norm": clip_norm,
        "clip_norm": clip_norm,
        "sample_rate": sample_size / n_users,
        "steps": rounds,
        "mechanism": MECHANISM,
        "guarantee": GUARANTEE,
    }
