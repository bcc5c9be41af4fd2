"""`lmrec compare` and `lmrec quickstart`."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Annotated, Any

import typer

from lmrec.cli.common import console, frame_table, load_data, progress_messages, split_data
from lmrec.core.settings_files import parse_set
from lmrec.errors import ConfigError

CLASSIC_MODELS = "random,pop,itemknn,userknn,ease,als,bpr,mf"


def _settings(sets: list[str] | None) -> dict[str, dict[str, object]]:
    """`--set ease.reg=300` -> {"ease": {"reg": 300}}; the prefix is a model name (all its
    runs) or a label from `--models LABEL=NAME` (that run only)."""
    out: dict[str, dict[str, object]] = {}
    for key, value in parse_set(sets).items():
        model, dot, name = key.partition(".")
        if not dot:
            raise ConfigError(
                f"--set in compare needs MODEL.key=value or LABEL.key=value, got {key!r}"
            )
        out.setdefault(model, {})[name] = value
    return out


def run_compare(
    data: str,
    models: str,
    protocol: str,
    seed: int,
    split_files: str | None,
    out_dir: Path,
    json_path: Path | None,
    *,
    tune: bool = True,
    refit: bool = False,
    exclude_seen: bool = True,
    sets: list[str] | None = None,
    title: str | None = None,
) -> list[Any]:
    from lmrec.experiment.compare import compare_models, parse_model_specs, results_frame
    from lmrec.experiment.report import HEADLINE, write_json, write_report
    from lmrec.models.registry import get_model_class

    specs = parse_model_specs(models)
    for _label, name in specs:
        get_model_class(name)  # fail on a typo before any work
    dataset = load_data(data)
    split = split_data(dataset, protocol, seed, split_files)
    label = "files" if split_files else protocol
    console.print(
        f"{dataset.name}: {dataset.n_users:,} users, {dataset.n_items:,} items; "
        f"split {label}: train {len(split.train):,} / valid {len(split.valid):,} / "
        f"test {len(split.test):,}"
    )
    with progress_messages("compare") as say:
        rows = compare_models(
            split,
            models,
            label,
            settings=_settings(sets),
            tune=tune,
            refit=refit,
            exclude_seen=exclude_seen,
            progress=say,
        )
    frame = results_frame(rows)
    shown = ["model", *[c for c in (*HEADLINE, "rmse") if c in frame], "fit_s"]
    console.print(
        frame_table(frame[shown], title=f"{dataset.name}, {label} protocol, full ranking")
    )
    seen = (
        "seen items excluded" if exclude_seen else "seen items kept (RecBole sequence convention)"
    )
    context = {
        "dataset": f"{dataset.name} ({dataset.n_users} users, {dataset.n_items} items, "
        f"{dataset.n_interactions} interactions)",
        "protocol": f"{label}, seed {seed}, full ranking, {seen}",
        "selection": "hyper-parameters tuned on validation NDCG@10, model fit on train only"
        if tune
        else "default hyper-parameters",
    }
    paths = write_report(
        rows, out_dir, title=title or f"lmrec compare: {dataset.name}", context=context
    )
    if json_path:
        write_json(rows, json_path)
        paths["json (--json)"] = json_path
    for kind, path in paths.items():
        console.print(f"  {kind}: {path}")
    return rows


def compare(
    data: Annotated[str, typer.Option("--data", help="dataset name or path")] = "ml-100k",
    models: Annotated[
        str,
        typer.Option(
            help="comma-separated model names; LABEL=NAME runs a model under its own label, "
            "e.g. sasrec-id=sasrec,sasrec-text=sasrec with --set sasrec-id.item_repr=id"
        ),
    ] = "pop,itemknn,ease,als,bpr,mf",
    protocol: Annotated[
        str, typer.Option(help="ratio|temporal|loo|cold-items|cold-users")
    ] = "ratio",
    split_files: Annotated[
        str | None, typer.Option("--split-files", help="train.csv,valid.csv,test.csv")
    ] = None,
    seed: Annotated[int, typer.Option(help="split seed")] = 42,
    json_path: Annotated[
        Path | None, typer.Option("--json", help="write results JSON here")
    ] = None,
    out_dir: Annotated[Path, typer.Option("--out-dir", help="report directory")] = Path(
        "reports/compare"
    ),
    tune: Annotated[bool, typer.Option(help="tune each model's grid on validation")] = True,
    refit: Annotated[bool, typer.Option(help="also refit on train+valid (extra rows)")] = False,
    exclude_seen: Annotated[
        bool,
        typer.Option("--exclude-seen/--no-exclude-seen", help="remove seen items from rankings"),
    ] = True,
    set_: Annotated[list[str] | None, typer.Option("--set", help="MODEL.key=value")] = None,
) -> None:
    """Train and test several models on one split; print a table and write a report."""
    run_compare(
        data,
        models,
        protocol,
        seed,
        split_files,
        out_dir,
        json_path,
        tune=tune,
        refit=refit,
        exclude_seen=exclude_seen,
        sets=set_,
    )


def quickstart(
    out_dir: Annotated[Path, typer.Option("--out-dir", help="report directory")] = Path(
        "reports/quickstart"
    ),
    models: Annotated[str, typer.Option(help="comma-separated model names")] = CLASSIC_MODELS,
    register: Annotated[
        bool, typer.Option(help="fit the best model on all data and register it for serving")
    ] = True,
) -> None:
    """Fetch MovieLens-100k, train and compare the models, print and save a report."""
    from lmrec.data.fetch import fetch

    with console.status("fetching ml-100k"):
        path = fetch("ml-100k")
    console.print(f"ml-100k at {path}")
    rows = run_compare(
        "ml-100k",
        models,
        "ratio",
        42,
        None,
        out_dir,
        None,
        title="lmrec quickstart: MovieLens-100k, 8:1:1 random split",
    )
    if register:
        _register_for_serving(rows)


def _register_for_serving(rows: list[Any]) -> None:
    """Fit the best model (and the text model when installed) on all of ml-100k and add
    them to the default registry, so that `lmrec serve` with no options serves them."""
    from lmrec.data import load_dataset
    from lmrec.models.registry import create_model
    from lmrec.store.registry import ModelRegistry

    best = max(rows, key=lambda r: r.metrics.get("ndcg@10", float("-inf")))
    names = [best.family]
    if importlib.util.find_spec("sentence_transformers") is not None:
        names.insert(0, "content")  # registered first, so the best model is the default
    dataset = load_dataset("ml-100k")
    registry = ModelRegistry.default()
    for name in names:
        config = best.config if name == best.family else {}
        with console.status(f"fitting {name} on all of ml-100k for serving"):
            model = create_model(name, config).fit(dataset)
        metrics = best.metrics if name == best.family else {}
        version = registry.register(model, name, metrics=metrics)
        registry.promote(name, version)
        console.print(f"registered {name} version {version} in {registry.root} (lmrec serve)")


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)
    app.command("quickstart")(quickstart)
