"""`lmrec ope`: off-policy evaluation, on the Open Bandit Dataset sample and in a replay
simulator on rating data."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from lmrec.cli.common import console, err_console

ope_app = typer.Typer(
    help="Estimate how a policy would have done on logged traffic (off-policy evaluation).",
    no_args_is_help=True,
)

TARGETS = ("uniform",)


def _table(rows: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    for column in rows[0]:
        table.add_column(column, justify="left" if column in ("estimator", "policy") else "right")
    for row in rows:
        table.add_row(*(_cell(v) for v in row.values()))
    return table


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    return str(value) if isinstance(value, int) else f"{value:.5f}"


def _write_json(rows: list[dict[str, Any]], path: Path | None) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(rows, indent=2) + "\n")


@ope_app.command("obd")
def obd_cmd(
    campaign: Annotated[str, typer.Option(help="all, men or women")] = "all",
    behavior: Annotated[
        str, typer.Option(help="the log to estimate from: bts (Thompson sampling) or random")
    ] = "bts",
    target: Annotated[str, typer.Option(help="the policy to evaluate: uniform")] = "uniform",
    json_out: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="write the rows as JSON")
    ] = None,
    seed: Annotated[int, typer.Option(help="bootstrap seed")] = 0,
    home: Annotated[
        Path | None, typer.Option(help="cache directory (default $LMREC_HOME or ~/.cache/lmrec)")
    ] = None,
) -> None:
    """Estimate, from one Open Bandit Dataset log, the click rate per shown item the
    uniform-random policy would get; beside each estimate the truth measured on the
    uniform-random log itself. The sample holds about 40 clicks per log: a check of the
    estimators on real traffic, not a benchmark."""
    from lmrec.errors import ConfigError
    from lmrec.feedback.bandit_ope import evaluate, on_policy, uniform_policy
    from lmrec.feedback.obd import fetch_obd, read_obd

    if target not in TARGETS:
        raise ConfigError(f"--target must be one of {', '.join(TARGETS)}, not {target!r}")
    with err_console.status("Open Bandit Dataset sample") as status:
        directory = fetch_obd(home, progress=lambda msg: status.update(msg))
    log = read_obd(directory, behavior, campaign)
    truth_log = read_obd(directory, "random", campaign)
    truth = on_policy(truth_log, seed=seed)
    # the catalogue is every item either log showed (a Thompson log may skip some)
    n_items = max(log.n_items, truth_log.n_items)
    log = dataclasses.replace(log, n_items=n_items)
    policy = uniform_policy(n_items, log.n_positions)
    rows = [{**est.as_dict(), "truth": truth.estimate} for est in evaluate(log, policy, seed=seed)]
    rows.append({**truth.as_dict(), "estimator": "truth (random log)", "truth": truth.estimate})
    typer.echo(
        f"{target} policy estimated from the {behavior} log of campaign {campaign} "
        f"({len(log)} rows, {int(log.click.sum())} clicks); truth: the random log "
        f"({len(truth_log)} rows, {int(truth_log.click.sum())} clicks)"
    )
    console.print(_table(rows, "click rate per shown item"))
    _write_json(rows, json_out)


@ope_app.command("simulate")
def simulate_cmd(
    data: Annotated[
        str, typer.Option("--data", metavar="NAME|PATH", help="explicit ratings")
    ] = "ml-100k",
    impressions: Annotated[int, typer.Option(min=1, help="lists the logger shows")] = 100_000,
    json_out: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="write the rows as JSON")
    ] = None,
    rounds: Annotated[
        int, typer.Option(min=0, help="rounds of the online bandits (0: none)")
    ] = 50_000,
    plot: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="cumulative clicks of the bandits as PNG"),
    ] = None,
    text: Annotated[
        bool, typer.Option("--text/--no-text", help="give the bandits the items' text embeddings")
    ] = True,
    new_items: Annotated[
        float,
        typer.Option(
            min=0.0, max=0.9, help="share of items added after training (found by their text)"
        ),
    ] = 0.0,
    seed: Annotated[int, typer.Option(help="seed of the log, the bootstrap and the bandits")] = 0,
) -> None:
    """Replay simulator on ratings: a popularity logger with known propensities shows
    lists of 3 from each user's 10 EASE candidates (a held-out rating >= 4 is a click when
    the position is looked at); every estimator values an EASE target policy from that log
    beside its true value. Then greedy, random and learning bandits play online."""
    from lmrec.data import load_dataset
    from lmrec.feedback.bandits import item_text_vectors
    from lmrec.feedback.simulator import build_world, run_ope

    with err_console.status(f"building the simulator on {data}"):
        dataset = load_dataset(data)
        vectors = item_text_vectors(dataset) if text or new_items else None
        world = build_world(dataset, new_items=new_items, item_vectors=vectors)
    with err_console.status(f"logging {impressions:,} lists and estimating"):
        result = run_ope(world, impressions, seed=seed)
    typer.echo(
        f"{world.n_users} users; logger (epsilon-greedy by popularity) value "
        f"{result.logger_value:.4f} clicks per list, {result.logged_clicks} clicks logged; "
        f"target (epsilon-greedy by EASE) true value {result.truth:.4f}"
    )
    console.print(_table(result.rows, "clicks per list"))
    _write_json(result.rows, json_out)
    if rounds:
        _online(world, vectors if text else None, rounds, plot, seed)


def _online(world: Any, vectors: Any, rounds: int, plot: Path | None, seed: int) -> None:
    from lmrec.feedback.bandits import oracle_value, run_online, standard_bandits

    with err_console.status(f"online bandits, {rounds:,} rounds"):
        run = run_online(world, standard_bandits(world, vectors), rounds, seed=seed)
    curves = run.curves
    oracle = oracle_value(world)
    rows: list[dict[str, Any]] = [
        {"policy": name, "clicks": int(curve[-1]), "per list": curve[-1] / rounds,
         "share of best": curve[-1] / rounds / oracle}
        for name, curve in curves.items()
    ]  # fmt: skip
    if run.new_item_share is not None:
        for row in rows:
            row["new items shown"] = run.new_item_share[row["policy"]]
    console.print(_table(rows, f"online, {rounds:,} rounds; best lists: {oracle:.4f} per list"))
    if plot is not None:
        _plot(curves, oracle, plot)
        typer.echo(f"plot: {plot}")


def _plot(curves: dict[str, Any], oracle: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (ax_clicks, ax_regret) = plt.subplots(1, 2, figsize=(11, 4))
    for name, curve in curves.items():
        t = np.arange(1, len(curve) + 1)
        ax_clicks.plot(t, curve, label=name)
        ax_regret.plot(t, oracle * t - curve, label=name)
    ax_clicks.set(xlabel="round", ylabel="cumulative clicks", title="clicks")
    ax_regret.set(xlabel="round", ylabel="best lists' expected clicks - clicks", title="regret")
    ax_clicks.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


@ope_app.command("reinforce")
def reinforce_cmd(
    data: Annotated[
        str, typer.Option("--data", metavar="NAME|PATH", help="explicit ratings with times")
    ] = "ml-100k",
    impressions: Annotated[int, typer.Option(min=1, help="lists the logger shows")] = 100_000,
    epochs: Annotated[int, typer.Option(min=1, help="most epochs of each learned policy")] = 30,
    sasrec_epochs: Annotated[
        int, typer.Option(min=1, help="most epochs of supervised SASRec (stops early)")
    ] = 100,
    threads: Annotated[int, typer.Option(min=1, help="CPU threads for training")] = 1,
    json_out: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="write the rows as JSON")
    ] = None,
    seed: Annotated[int, typer.Option(help="seed of the log and of every model")] = 0,
) -> None:
    """A list policy learned from logged feedback: off-policy REINFORCE with the top-K
    correction (Chen et al., WSDM 2019) on SASRec's network, trained on the lists a
    popularity logger showed in the replay simulator, against supervised SASRec trained
    on the same users' behaviour. Values are true expected clicks per list of 3 from each
    user's 10 EASE candidates, computed from the held-out ratings; p: paired t-test over
    users against supervised SASRec."""
    from lmrec.data import load_dataset
    from lmrec.feedback.reinforce import ReinforceSettings, compare_policies
    from lmrec.feedback.simulator import build_world

    with err_console.status(f"building the simulator on {data}"):
        world = build_world(load_dataset(data), seed=seed)
    with err_console.status("logging lists, fitting SASRec and the learned policies"):
        result = compare_policies(
            world,
            impressions,
            seed=seed,
            sasrec_epochs=sasrec_epochs,
            settings=ReinforceSettings(epochs=epochs, seed=seed),
            threads=threads,
        )
    typer.echo(
        f"{world.n_users} users; {impressions:,} logged lists, {result.logged_clicks} clicks"
    )
    console.print(_table(result.rows, "true clicks per list"))
    _write_json(result.rows, json_out)


@ope_app.command("served")
def served_cmd(
    model: Annotated[str, typer.Option(help="the model whose served lists to read")],
    target: Annotated[
        str, typer.Option(help="the policy to value: greedy or epsilon:E (same model)")
    ] = "greedy",
    db: Annotated[
        str | None,
        typer.Option(metavar="URL", help="event store (default: $LMREC_HOME/events.db)"),
    ] = None,
    json_out: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="write the rows as JSON")
    ] = None,
    seed: Annotated[int, typer.Option(help="bootstrap seed")] = 0,
    registry: Annotated[
        Path | None,
        typer.Option(
            help="registry the served versions are read from, for thompson logs "
            "(default $LMREC_HOME/registry)"
        ),
    ] = None,
) -> None:
    """Value another exploration setting of a served model from the service's own log:
    lists served with LMREC_EXPLORATION=epsilon:E (E <= 0.5), or thompson:L for a greedy
    target (the model's own lists are recomputed from the registry; propensities are Monte
    Carlo estimates, so intervals are approximate), clicks and purchases joined by request
    id. Prints clicks per list, logged and estimated."""
    from lmrec.core.paths import lmrec_home
    from lmrec.events.store import EventStore
    from lmrec.feedback.exploration import parse_policy
    from lmrec.feedback.served_ope import evaluate_served
    from lmrec.feedback.thompson import THOMPSON_NOTE

    policy = parse_policy(target)
    store = EventStore(db or f"sqlite:///{lmrec_home() / 'events.db'}")
    try:
        frame = store.served_with_rewards(model)
    finally:
        store.close()
    logged_lists = frame["request_id"].nunique()
    thompson = frame["policy"].astype(str).str.startswith("thompson").any()
    if thompson and frame["policy"].nunique() == 1 and policy.kind == "greedy":
        from lmrec.experiment.ope_gate import mark_own_items
        from lmrec.store.registry import ModelRegistry

        reg = ModelRegistry(registry) if registry is not None else ModelRegistry.default()
        frame = mark_own_items(frame, reg, model)
    rows = [e.as_dict() for e in evaluate_served(frame, policy, seed=seed)]
    typer.echo(
        f"{model}: {frame['request_id'].nunique()} lists logged by "
        f"{frame['policy'].iloc[0]}, {int(frame['reward'].sum())} rewarded items; "
        f"target {policy.label}"
    )
    if frame["request_id"].nunique() < logged_lists:
        typer.echo(
            f"note: {logged_lists - frame['request_id'].nunique()} lists left out: their "
            "users are unknown to the version that served them"
        )
    if thompson:
        typer.echo(f"note: {THOMPSON_NOTE}")
    console.print(_table(rows, "clicks per list"))
    _write_json(rows, json_out)


def register(app: typer.Typer) -> None:
    app.add_typer(ope_app, name="ope")
