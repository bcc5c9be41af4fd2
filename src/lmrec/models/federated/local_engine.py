"""Rounds run in this process, one client after another: the same arithmetic and the
same messages as the Flower engine, without Flower (tests, and machines without the
`federated` extra)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp

from lmrec.models.federated.fcf import SolveSettings, client_step, wire_bytes
from lmrec.models.federated.server import FederatedServer


def run_local(
    server: FederatedServer,
    interactions: sp.csr_matrix,
    settings: SolveSettings,
    neg_ratio: int,
    rounds: int,
    seed: int,
    report: Callable[[int], None] | None = None,
) -> None:
    for r in range(rounds):
        factors = server.broadcast()
        chosen = server.sample(interactions.shape[0])
        updates = []
        for user in chosen:
            items = interactions.indices[interactions.indptr[user] : interactions.indptr[user + 1]]
            if len(items) == 0:
                continue
            rng = np.random.default_rng([seed, r, int(user)])
            updates.append(client_step(items, factors, settings, neg_ratio, rng))
        server.finish_round(
            updates,
            bytes_down=wire_bytes(factors) * len(updates),
            bytes_up=sum(u.nbytes for u in updates),
        )
        if report is not None:
            report(r)
