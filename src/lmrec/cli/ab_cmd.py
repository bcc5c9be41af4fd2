"""`lmrec ab report`: read an A/B test of the service (LMREC_AB) from its event store."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from lmrec.cli.common import console

ab_app = typer.Typer(help="A/B tests between live models (LMREC_AB).", no_args_is_help=True)


def _since(text: str | None) -> float | None:
    from lmrec.errors import ConfigError

    if text is None:
        return None
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError:
        raise ConfigError(
            f"--since {text!r} is not a date: use ISO form, e.g. 2026-11-01 or 2026-11-01T09:00"
        ) from None


def _num(value: float) -> str:
    return f"{value:.5f}" if value == value else "n/a"  # NaN: too few users yet


@ab_app.command("report")
def report_cmd(
    db: Annotated[
        str | None,
        typer.Option(metavar="URL", help="event store (default: $LMREC_HOME/events.db)"),
    ] = None,
    control: Annotated[
        str | None, typer.Option(help="the arm the others are compared with (default: first)")
    ] = None,
    since: Annotated[
        str | None, typer.Option(metavar="DATE", help="only lists served from this time on")
    ] = None,
    reward: Annotated[str, typer.Option(help="the event type that counts as a click")] = "click",
    alpha: Annotated[float, typer.Option(help="error rate of the tests")] = 0.05,
    tau: Annotated[
        float,
        typer.Option(help="difference in rate the sequential test is tuned to detect soonest"),
    ] = 0.005,
    json_out: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="write the report as JSON")
    ] = None,
) -> None:
    """Each arm's click-through rate (clicks per shown item, users as the unit), every arm's
    difference with the control and its 95% interval (valid read once), and the sequential
    test (always-valid p-value and confidence sequence: valid however often it is read,
    e.g. every day; stop at the first read where it decides)."""
    from lmrec.core.paths import lmrec_home
    from lmrec.events.store import EventStore
    from lmrec.feedback.ab_test import ab_report

    start = _since(since)
    store = EventStore(db or f"sqlite:///{lmrec_home() / 'events.db'}")
    try:
        frame = store.served_with_rewards(reward_types=(reward,))
    finally:
        store.close()
    if start is not None:
        frame = frame[frame["served_at"] >= start]
    rates, comparisons = ab_report(frame, control, alpha=alpha, tau=tau)
    arms = Table(title=f"click-through rate per arm ({reward} per shown item)")
    for column in ("arm", "users", "shown", "clicks", "rate", "std error"):
        arms.add_column(column, justify="left" if column == "arm" else "right")
    for r in rates:
        arms.add_row(r.arm, str(r.users), str(r.impressions), str(r.clicks), _num(r.rate),
                     _num(r.std_error))  # fmt: skip
    console.print(arms)
    diffs = Table(title="difference with the control")
    for column in ("arm - control", "difference", "95% interval", "sequential p",
                   "confidence sequence", "decision"):  # fmt: skip
        diffs.add_column(column, justify="left" if column == "arm - control" else "right")
    for c in comparisons:
        diffs.add_row(
            f"{c.arm} - {c.control}",
            _num(c.difference),
            f"[{_num(c.ci_low)}, {_num(c.ci_high)}]",
            f"{c.sequential_p:.4f}",
            f"[{_num(c.cs_low)}, {_num(c.cs_high)}]",
            c.decision,
        )
    console.print(diffs)
    for c in comparisons:
        typer.echo(f"{c.arm} vs {c.control}: {c.decision} (sequential p {c.sequential_p:.4f})")
    if json_out is not None:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "arms": [asdict(r) for r in rates],
            "comparisons": [c.as_dict() for c in comparisons],
            "alpha": alpha,
            "tau": tau,
        }
        json_out.write_text(json.dumps(_no_nan(payload), indent=2) + "\n")


def _no_nan(value: Any) -> Any:
    """NaN (too few users for an error) as null: NaN is not JSON."""
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _no_nan(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_no_nan(v) for v in value]
    return value


def register(app: typer.Typer) -> None:
    app.add_typer(ab_app, name="ab")
