"""Rounds run in this process, one client after another: the same arithmetic and the
same messages as the Flower engine, without Flower (tests, and machines without the
`federated` extra)."""

from __future__ import annotations

from collections.abc import Callable

import scipy.sparse as sp

from lmrec.models.federated.fcf import SolveSettings, user_step, wire_bytes
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
            if interactions.indptr[user] == interactions.indptr[user + 1]:
                continue  # no interactions: nothing to learn from
            updates.append(
                user_step(interactions, int(user), r, factors, settings, neg_ratio, seed)
            )
        server.finish_round(
            updates,
            bytes_down=wire_bytes(factors) * len(updates),
            bytes_up=sum(u.nbytes for u in updates),
        )
        if report is not None:
            report(r)
