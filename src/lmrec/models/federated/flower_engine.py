"""Rounds run on Flower's simulation engine (the `federated` extra): one virtual
SuperNode per user, each holding that user's interactions alone, on a local Ray cluster
with one CPU per client. The ServerApp below samples nodes, sends the item factors and
receives each client's item-row step; it never learns which node is which user.

Flower is imported only here, inside the functions that run it."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import scipy.sparse as sp

from lmrec.errors import ConfigError, LmrecError
from lmrec.models.federated.fcf import ClientUpdate, SolveSettings, user_step
from lmrec.models.federated.server import FederatedServer

INSTALL_HINT = "pip install 'lmrec[federated]'"
#: seconds the server waits for every simulated node to register before round one
NODE_WAIT_S = 120.0


def require_flower() -> None:
    try:
        import flwr  # noqa: F401
    except ImportError:
        raise ConfigError(
            "engine=flower needs Flower, which is not installed: "
            f"{INSTALL_HINT} (in a virtual environment of its own: flwr pins ray and "
            "the web packages), or set engine=local to run the rounds in this process"
        ) from None


def run_flower(
    server: FederatedServer,
    interactions: sp.csr_matrix,
    settings: SolveSettings,
    neg_ratio: int,
    rounds: int,
    seed: int,
    cpus: int,
    report: Callable[[int], None] | None = None,
) -> None:
    require_flower()
    from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, RecordDict
    from flwr.clientapp import ClientApp
    from flwr.serverapp import Grid, ServerApp
    from flwr.simulation import run_simulation

    n_users = interactions.shape[0]
    client = ClientApp()

    @client.train()
    def train(msg: Message, context: Context) -> Message:
        # runs on the client: its own rows only; the user vector stays in this function
        user = int(context.node_config["partition-id"])
        factors = msg.content["items"]["factors"].numpy()
        round_ = int(msg.content["config"]["round"])
        update = user_step(interactions, user, round_, factors, settings, neg_ratio, seed)
        arrays = {"rows": Array(update.rows), "step": Array(update.step)}
        return Message(content=RecordDict({"update": ArrayRecord(array_dict=arrays)}), reply_to=msg)

    outcome: dict[str, Any] = {}
    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        try:
            nodes = _wait_for_nodes(grid, n_users)
            for r in range(rounds):
                _one_round(grid, nodes, r)
                if report is not None:
                    report(r)
        except BaseException as exc:  # surfaced after the simulation ends
            outcome["error"] = exc

    def _one_round(grid: Grid, nodes: list[int], r: int) -> None:
        factors = Array(server.broadcast())
        chosen = [nodes[i] for i in server.sample(len(nodes))]
        messages = [
            Message(
                content=RecordDict(
                    {
                        "items": ArrayRecord(array_dict={"factors": factors}),
                        "config": ConfigRecord({"round": r}),
                    }
                ),
                dst_node_id=node,
                message_type="train",
            )
            for node in chosen
        ]
        replies = sorted(grid.send_and_receive(messages), key=lambda m: m.metadata.src_node_id)
        updates, up = [], 0
        for reply in replies:
            if not reply.has_content():
                raise LmrecError(f"a federated client failed in round {r}: {reply.error.reason}")
            record = reply.content["update"]
            rows, step = record["rows"], record["step"]
            up += len(rows.data) + len(step.data)
            updates.append(ClientUpdate(rows.numpy(), step.numpy()))
        server.finish_round(updates, bytes_down=len(factors.data) * len(replies), bytes_up=up)

    logging.getLogger("flwr").setLevel(logging.ERROR)
    backend = {
        "client_resources": {"num_cpus": 1},
        # address "local": always a cluster of our own, never one `ray start` left running
        "init_args": {"address": "local", "num_cpus": cpus, "log_to_driver": False},
    }
    run_simulation(app, client, num_supernodes=n_users, backend_config=backend)
    if "error" in outcome:
        raise outcome["error"]
    if server.wire.rounds != rounds:
        raise LmrecError(
            f"the Flower simulation stopped after {server.wire.rounds} of {rounds} rounds; "
            "rerun with --progress to see its log"
        )


def _wait_for_nodes(grid: Any, n: int) -> list[int]:
    """Node ids once all n simulated nodes have registered (they join asynchronously)."""
    deadline = time.monotonic() + NODE_WAIT_S
    while True:
        nodes = sorted(grid.get_node_ids())
        if len(nodes) >= n:
            return nodes
        if time.monotonic() > deadline:
            raise LmrecError(f"only {len(nodes)} of {n} simulated Flower nodes started")
        time.sleep(0.05)
