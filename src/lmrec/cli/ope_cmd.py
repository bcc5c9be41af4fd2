"""`lmrec ope`: off-policy evaluation, on the Open Bandit Dataset sample and in a replay
simulator on rating data."""

from __future__ import annotations

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
        table.add_column(column, justify="left" if column == "estimator" else "right")
    for row in rows:
        table.add_row(*(v if isinstance(v, str) else f"{v:.5f}" for v in row.values()))
    return table


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
    policy = uniform_policy(log.n_items, log.n_positions)
    rows = [{**est.as_dict(), "truth": truth.estimate} for est in evaluate(log, policy, seed=seed)]
    rows.append({**truth.as_dict(), "estimator": "truth (random log)", "truth": truth.estimate})
    typer.echo(
        f"{target} policy estimated from the {behavior} log of campaign {campaign} "
        f"({len(log)} rows, {int(log.click.sum())} clicks); truth: the random log "
        f"({len(truth_log)} rows, {int(truth_log.click.sum())} clicks)"
    )
    console.print(_table(rows, "click rate per shown item"))
    _write_json(rows, json_out)


def register(app: typer.Typer) -> None:
    app.add_typer(ope_app, name="ope")
