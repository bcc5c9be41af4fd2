"""Small pieces shared by command modules: console, data loading, output."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from lmrec.core.options import FitOptions
from lmrec.data.dataset import Dataset
from lmrec.errors import ConfigError

if TYPE_CHECKING:
    from lmrec.experiment.tracking import TrackedRun

console = Console()
err_console = Console(stderr=True)

PROTOCOLS = ("ratio", "temporal", "loo", "cold-items", "cold-users")


def split_data(dataset: Dataset, protocol: str, seed: int, split_files: str | None = None) -> Any:
    from lmrec.data.splitters import make_split, split_from_files

    if split_files:
        paths = [p.strip() for p in split_files.split(",")]
        if len(paths) != 3:
            raise ConfigError(
                "--split-files needs three comma-separated paths train,valid,test; "
                f"got {len(paths)}"
            )
        return split_from_files(dataset, *paths)
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol '{protocol}' (choose from {', '.join(PROTOCOLS)})")
    return make_split(dataset, protocol, seed=seed)


def frame_table(df: pd.DataFrame, title: str | None = None) -> Table:
    table = Table(title=title)
    for col in df.columns:
        numeric = pd.api.types.is_numeric_dtype(df[col])
        table.add_column(str(col), justify="right" if numeric else "left", no_wrap=not numeric)
    for row in df.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    return table


def print_json(obj: Any) -> None:
    console.print_json(json.dumps(obj))


@contextmanager
def progress_messages(label: str) -> Iterator[Any]:
    """A spinner whose text follows the pipeline's progress messages (on stderr); when
    stderr is not a terminal (a log file, CI), each message is one timestamped line instead,
    so a long run can be followed with `tail -f`."""
    if not err_console.is_terminal:
        yield lambda msg: err_console.print(f"{time.strftime('%H:%M:%S')} {label}: {msg}")
        return
    with err_console.status(label) as status:
        yield lambda msg: status.update(f"{label}: {msg}")


# Run options shared by every command that fits models (never saved with a model).
DeviceOpt = Annotated[
    str | None,
    typer.Option(
        metavar="NAME", help="cpu, cuda, cuda:N, mps or auto (default: $LMREC_DEVICE, else auto)"
    ),
]
ThreadsOpt = Annotated[int | None, typer.Option(metavar="N", min=1, help="CPU threads for fitting")]
ProgressOpt = Annotated[
    bool, typer.Option("--progress/--no-progress", help="report each training epoch")
]
CheckpointOpt = Annotated[
    Path | None,
    typer.Option("--checkpoint-dir", metavar="DIR", help="keep training state here each epoch"),
]
RayAddressOpt = Annotated[
    str | None,
    typer.Option(
        "--ray-address",
        metavar="ADDR",
        help="join this Ray cluster (e.g. ray://head:10001, or auto) instead of starting a "
        "local Ray",
    ),
]
ResumeOpt = Annotated[
    bool, typer.Option("--resume", help="continue from the state in --checkpoint-dir")
]


# Experiment tracking (MLflow), shared by compare, tune and train.
TrackOpt = Annotated[
    bool | None,
    typer.Option(
        "--track/--no-track",
        show_default=False,
        help="log the run to MLflow (default store: mlflow.db in the lmrec home); "
        "\\[default: on when $LMREC_TRACKING_URI is set]",
    ),
]
TrackingUriOpt = Annotated[
    str | None,
    typer.Option("--tracking-uri", metavar="URI", help="MLflow tracking URI (implies --track)"),
]
ExperimentOpt = Annotated[
    str, typer.Option("--experiment", metavar="NAME", help="MLflow experiment of the run")
]


@contextmanager
def tracking(
    track: bool | None, uri: str | None, experiment: str, name: str, command: str
) -> Iterator[TrackedRun | None]:
    """An MLflow run for the command when tracking is on (else None); says where it went."""
    from lmrec.experiment.tracking import resolve_uri, tracked_run

    resolved = resolve_uri(track, uri)
    if resolved is None:
        yield None
        return
    with tracked_run(resolved, name, experiment, tags={"lmrec.command": command}) as run:
        yield run
    console.print(
        f"tracked: MLflow run {run.run_id} in experiment {experiment!r} at {resolved}",
        soft_wrap=True,
    )


def fit_options(
    device: str | None,
    threads: int | None,
    progress: bool,
    report: Callable[[str], None] | None,
    checkpoint_dir: Path | None = None,
    resume: bool = False,
) -> FitOptions:
    """Run options from the command line; epoch lines go to `report`."""
    return FitOptions(
        device=device,
        threads=threads,
        progress=progress,
        checkpoint_dir=checkpoint_dir,
        resume=resume,
        report=report,
    )


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "–" if value != value else f"{value:.4f}"  # NaN: the metric does not apply
    return str(value)
