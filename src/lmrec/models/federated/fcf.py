"""The arithmetic of federated implicit matrix factorisation (FCF, Ammad-ud-din et al.
2019), NumPy only, shared by the Flower engine and the in-process one.

Loss of one user u over the items (Hu et al. 2008): sum_i c_ui (p_ui - u·v_i)^2 with
p = 1 on their items (confidence 1 + alpha) and 0 elsewhere (confidence 1). A client
solves its own u exactly from the item factors it downloads (as ALS does) and sends back
only a descent step for the item rows it touched: its own items and a uniform sample of
others, those weighted so the step is unbiased for the loss over every item. The server
never sees u.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class SolveSettings:
    """What a client needs to solve its user vector (sent with the item factors)."""

    alpha: float
    user_reg: float


@dataclass(frozen=True)
class ClientUpdate:
    """What one client sends up: item rows and the step for each (float32 on the wire)."""

    rows: np.ndarray  # int32 item indices
    step: np.ndarray  # float32 (len(rows), factors)

    @property
    def nbytes(self) -> int:
        return wire_bytes(self.rows) + wire_bytes(self.step)


def wire_bytes(array: np.ndarray) -> int:
    """Bytes of an array as Flower's message payload holds it (NumPy's .npy format: the
    data and a header of about 128 bytes); the same count for the in-process engine."""
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getbuffer().nbytes


def solve_user(
    items: np.ndarray, factors: np.ndarray, gram: np.ndarray, settings: SolveSettings
) -> np.ndarray:
    """The user vector minimising the weighted loss above plus user_reg·|u|² (float64)."""
    k = factors.shape[1]
    own = factors[items].astype(np.float64)
    lhs = gram + settings.alpha * (own.T @ own) + settings.user_reg * np.eye(k)
    return np.linalg.solve(lhs, (1.0 + settings.alpha) * own.sum(axis=0))


def fold_in(histories: sp.csr_matrix, factors: np.ndarray, settings: SolveSettings) -> np.ndarray:
    """User vectors solved from histories (rows of item presence): what a client does
    with its own history at query time; nothing about the user is stored."""
    f64 = factors.astype(np.float64)
    gram = f64.T @ f64
    users = np.zeros((histories.shape[0], factors.shape[1]))
    for row in range(histories.shape[0]):
        items = histories.indices[histories.indptr[row] : histories.indptr[row + 1]]
        if len(items):
            users[row] = solve_user(items, f64, gram, settings)
    return users


def client_step(
    items: np.ndarray,
    factors: np.ndarray,
    settings: SolveSettings,
    neg_ratio: int,
    rng: np.random.Generator,
) -> ClientUpdate:
    """One client's round: solve u on the device, return a descent step for item rows.

    neg_ratio = 0 sends the exact step for every item (dense); otherwise neg_ratio
    negatives per own item are drawn uniformly and weighted by (unseen items / drawn)."""
    n_items = factors.shape[0]
    f64 = factors.astype(np.float64)
    user = solve_user(items, f64, f64.T @ f64, settings)
    seen = np.zeros(n_items, dtype=bool)
    seen[items] = True
    if neg_ratio == 0:
        negatives = np.flatnonzero(~seen)
        weight = 1.0
    else:
        drawn = rng.integers(0, n_items, size=neg_ratio * len(items))
        negatives = np.unique(drawn[~seen[drawn]])
        weight = (n_items - len(items)) / max(len(drawn), 1)
    # -1/2 the gradient of c_i (p_i - u·v_i)^2 in v_i: c_i (p_i - u·v_i) u
    pos_err = (1.0 + settings.alpha) * (1.0 - f64[items] @ user)
    # np.unique merged repeated draws; each counted once keeps the weight's expectation
    # within a few per cent on a sparse history and the code simple
    neg_err = -weight * (f64[negatives] @ user)
    rows = np.concatenate([items, negatives]).astype(np.int32)
    step = np.concatenate([pos_err, neg_err])[:, None] * user[None, :]
    return ClientUpdate(rows, step.astype(np.float32))


def user_step(
    interactions: sp.csr_matrix,
    user: int,
    round_: int,
    factors: np.ndarray,
    settings: SolveSettings,
    neg_ratio: int,
    seed: int,
) -> ClientUpdate:
    """Client `user`'s round from its own row of `interactions`, its negatives drawn from
    a generator of (seed, round, user): both engines send the same steps."""
    items = interactions.indices[interactions.indptr[user] : interactions.indptr[user + 1]]
    rng = np.random.default_rng([seed, round_, user])
    return client_step(items, factors, settings, neg_ratio, rng)


def clip(update: ClientUpdate, max_norm: float) -> ClientUpdate:
    """The update scaled to L2 norm at most max_norm (over all its rows)."""
    norm = float(np.linalg.norm(update.step))
    if norm <= max_norm:
        return update
    return ClientUpdate(update.rows, (update.step * (max_norm / norm)).astype(np.float32))


def average(
    updates: list[ClientUpdate],
    n_items: int,
    factors: int,
    expected_clients: float,
    noise_std: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """FedAvg of sparse steps: their sum (plus Gaussian noise of std noise_std on every
    coordinate) over the expected number of clients (a fixed denominator, so one user's
    presence changes the sum by at most the clip norm: DP-FedAvg, McMahan et al. 2018)."""
    total = np.zeros((n_items, factors))
    for update in updates:
        # an update's rows are distinct (own items, then distinct unseen ones), so a
        # plain indexed add is exact and much faster than np.add.at
        total[update.rows] += update.step
    if noise_std > 0:
        total += rng.normal(0.0, noise_std, size=total.shape)
    return total / max(expected_clients, 1e-12)
