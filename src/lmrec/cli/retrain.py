"""Where `lmrec train --from-store` gets its data: the stored events merged with the data
the live model was trained on (recorded in its model.json), unless told otherwise."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lmrec.cli.common import err_console
from lmrec.cli.data_options import DataOptions, report_load
from lmrec.data.dataset import Dataset
from lmrec.errors import ConfigError
from lmrec.store.registry import ModelRegistry


def data_source(data: str) -> str:
    """How to find the data again: an existing path as an absolute path, a name as is."""
    path = Path(data).expanduser()
    return str(path.absolute()) if path.exists() else data


def store_training_data(
    url: str,
    registry: ModelRegistry,
    opts: DataOptions,
    *,
    base: str | None,
    base_data: str | None,
    events_only: bool,
) -> tuple[Dataset, dict[str, Any]]:
    """(dataset, what to record in model.json) for a retrain from the event store. The
    base data is read as it was for the live version (its recorded data options), or with
    this command's data options for --base-data."""
    from lmrec.events.retrain import merge_with_events
    from lmrec.events.store import events_to_dataset, redact
    from lmrec.models.artifacts import read_meta

    if base_data is not None and events_only:
        raise ConfigError("give --base-data DATA or --events-only, not both")
    if events_only:
        dataset = events_to_dataset(url)
        report_load(dataset)
        err_console.print(
            f"training on {dataset.n_interactions:,} stored events alone ({dataset.n_users:,} "
            f"users, {dataset.n_items:,} items): the original training data is not included",
            highlight=False,
            soft_wrap=True,
        )
        return dataset, {"data": None, "from_store": redact(url), "events_only": True}
    source = base_data
    read = opts
    if source is None:
        if base is None:
            raise ConfigError(
                "--from-store merges the stored events with the data the live model was "
                "trained on: name it with --register NAME or --base NAME, or give "
                "--base-data DATA, or --events-only to train on the events alone"
            )
        live = registry.live_version(base)
        if live is None:
            raise ConfigError(
                f"no live version of '{base}' in {registry.root} to take the training data "
                "from; give --base-data DATA or --events-only"
            )
        meta = read_meta(registry.version_path(base, live))
        source = meta.get("data")
        # models trained before data options were recorded were read with dedupe "last"
        read = DataOptions.from_json(meta.get("data_options", {"dedupe": "last"}))
        if not source:
            raise ConfigError(
                f"{base} version {live} does not record the data it was trained on (only "
                "its events, or registered without it); give --base-data DATA or --events-only"
            )
    dataset, report = merge_with_events(read.load(source), url)
    err_console.print(report.line(source, redact(url)), highlight=False, soft_wrap=True)
    return dataset, {
        "data": data_source(source),
        "data_options": read.to_json(),
        "from_store": redact(url),
        "base_interactions": report.base_rows,
        "store_events": report.event_rows,
    }
