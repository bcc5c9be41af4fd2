"""`lmrec data fetch` and `lmrec data inspect`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from lmrec.cli.data_options import DataArgs, with_data_options

data_app = typer.Typer(help="Download, load and describe datasets.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


@data_app.command("fetch")
def fetch_cmd(
    name: Annotated[str, typer.Argument(help="dataset name, e.g. ml-100k, ml-1m, ml-25m")],
    home: Annotated[
        Path | None, typer.Option(help="cache directory (default $LMREC_HOME or ~/.cache/lmrec)")
    ] = None,
) -> None:
    """Download a dataset once (verified by checksum) and print where its files are."""
    from lmrec.data.fetch import fetch

    with err_console.status(f"fetching {name}") as status:
        path = fetch(name, home, progress=lambda msg: status.update(msg))
    typer.echo(str(path))  # plain, unwrapped: usable as $(lmrec data fetch ml-100k)


@data_app.command("inspect")
@with_data_options()
def inspect_cmd(
    data: Annotated[
        str | None,
        typer.Argument(help="dataset name (ml-100k, ...) or a path (default: path in \\[data])"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
    *,
    data_args: DataArgs,
) -> None:
    """Load a dataset and describe it: sizes, sparsity, activity, time range, drops."""
    from lmrec.data import inspect_dataset

    ds = data_args.resolve().load(data)
    report = inspect_dataset(ds)
    if as_json:
        console.print_json(json.dumps(report))
        return
    console.print(_report_table(report))


def _report_table(report: dict[str, Any]) -> Table:
    table = Table(title=f"dataset {report['name']}", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("value")
    for key in ("users", "items", "interactions"):
        table.add_row(key, f"{report[key]:,}")
    table.add_row("users with interactions", f"{report['users_with_interactions']:,}")
    table.add_row("items with interactions", f"{report['items_with_interactions']:,}")
    table.add_row("density", f"{report['density']:.5f}")
    table.add_row("feedback", report["feedback"])
    table.add_row("user activity", _dist(report["user_activity"]))
    table.add_row("item popularity", _dist(report["item_popularity"]))
    time_range = report["time_range"]
    table.add_row(
        "time range",
        f"{time_range['first']} .. {time_range['last']} ({time_range['days']} days)"
        if time_range
        else "no timestamps",
    )
    values = report["values"]
    if values:
        text = f"min {values['min']:g}, mean {values['mean']:g}, max {values['max']:g}"
        if "counts" in values:
            text += "; " + ", ".join(f"{v}: {n:,}" for v, n in values["counts"].items())
        table.add_row("values", text)
    table.add_row("item columns", ", ".join(report["item_columns"]) or "-")
    table.add_row("user columns", ", ".join(report["user_columns"]) or "-")
    if report["rows_read"] is not None:
        table.add_row("rows read", f"{report['rows_read']:,}")
    table.add_row("rows merged", _reasons(report["merged"], {}))
    table.add_row("rows dropped", _reasons(report["dropped"], report["dropped_lines"]))
    for note in report["notes"]:
        table.add_row("note", note)
    return table


def _reasons(counts: dict[str, int], lines: dict[str, list[int]]) -> str:
    if not counts:
        return "none"
    parts = []
    for reason, n in counts.items():
        where = lines.get(reason)
        more = ", ..." if where and n > len(where) else ""
        label = "line" if where and len(where) == 1 and not more else "lines"
        shown = f" ({label} {', '.join(map(str, where))}{more})" if where else ""
        parts.append(f"{reason}: {n:,}{shown}")
    return "; ".join(parts)


def _dist(d: dict[str, float]) -> str:
    if not d:
        return "-"
    return (
        f"min {d['min']}, median {d['median']:g}, mean {d['mean']:g}, max {d['max']} "
        f"(p10 {d['p10']:g}, p90 {d['p90']:g}, p99 {d['p99']:g})"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")
