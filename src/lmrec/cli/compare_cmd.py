"""`lmrec compare` and `lmrec quickstart`."""

from __future__ import annotations

import importlib.util
import tempfile
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from lmrec.cli.common import (
    PROTOCOLS,
    DeviceOpt,
    ExperimentOpt,
    ProgressOpt,
    ThreadsOpt,
    TrackingUriOpt,
    TrackOpt,
    console,
    fit_options,
    frame_table,
    progress_messages,
    split_data,
    tracking,
)
from lmrec.cli.data_options import DataArgs, DataOptions, with_data_options
from lmrec.core.settings_files import parse_set
from lmrec.errors import ConfigError
from lmrec.experiment.tracking import DEFAULT_EXPERIMENT

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
    out_dir: Path | None,
    json_path: Path | None,
    *,
    tune: bool = True,
    refit: bool = False,
    exclude_seen: bool = True,
    sets: list[str] | None = None,
    title: str | None = None,
    data_options: DataOptions | None = None,
    ks: list[int] | None = None,
    metrics: list[str] | None = None,
    device: str | None = None,
    threads: int | None = None,
    progress: bool = True,
    reranks: list[str] | None = None,
    diversity: bool = False,
    track: bool | None = None,
    tracking_uri: str | None = None,
    experiment: str = DEFAULT_EXPERIMENT,
) -> list[Any]:
    from lmrec.core.rerank import RerankSpec
    from lmrec.evaluation.runner import metric_label
    from lmrec.experiment.compare import compare_models, parse_model_specs, results_frame
    from lmrec.experiment.item_embeddings import item_text_vectors
    from lmrec.experiment.report import headline, write_json, write_report
    from lmrec.experiment.tracking_logs import log_comparison, log_comparison_row
    from lmrec.models.registry import get_model_class

    specs = parse_model_specs(models)
    for _label, name in specs:
        get_model_class(name)  # fail on a typo before any work
    specs_rerank = [RerankSpec.parse(text) for text in _metric_names(reranks or [])]
    ks = sorted(set(ks or [10]))
    names = [metric_label(m) for m in _metric_names(metrics)] if metrics else None
    select = f"ndcg@{ks[0]}"
    dataset = (data_options or DataOptions()).load(data)
    split = split_data(dataset, protocol, seed, split_files)
    label = "files" if split_files else protocol
    console.print(
        f"{dataset.name}: {dataset.n_users:,} users, {dataset.n_items:,} items; "
        f"split {label}: train {len(split.train):,} / valid {len(split.valid):,} / "
        f"test {len(split.test):,}"
    )
    settings = _settings(sets)
    with tracking(track, tracking_uri, experiment, f"compare {dataset.name}", "compare") as run:
        with progress_messages("compare") as say:
            vectors = None
            if diversity or any(spec.method == "mmr" for spec in specs_rerank):
                vectors, why = item_text_vectors(split.train, say)
                if vectors is None:
                    console.print(f"intra-list diversity left out: {why}")
            rows = compare_models(
                split,
                models,
                label,
                settings=settings,
                ks=ks,
                metrics=names,
                tune=tune,
                refit=refit,
                exclude_seen=exclude_seen,
                select_metric=select,
                progress=say,
                options=fit_options(device, threads, progress, say),
                item_vectors=vectors,
                reranks=specs_rerank,
                on_row=None if run is None else lambda row: log_comparison_row(run, row, select),
            )
        frame = results_frame(rows)
        shown = ["model", *headline(frame, ks), *(["rmse"] if "rmse" in frame else []), "fit_s"]
        console.print(
            frame_table(frame[shown], title=f"{dataset.name}, {label} protocol, full ranking")
        )
        seen = (
            "seen items excluded"
            if exclude_seen
            else "seen items kept (RecBole sequence convention)"
        )
        context = {
            "dataset": f"{dataset.name} ({dataset.n_users} users, {dataset.n_items} items, "
            f"{dataset.n_interactions} interactions)",
            "protocol": f"{label}, seed {seed}, full ranking, {seen}",
            "selection": _selection(tune, select, bool(settings)),
        }
        report_metric = select if names is None or select in frame else headline(frame, ks)[0]
        out_dir = out_dir or _new_report_dir(Path("reports/compare"))
        paths = write_report(
            rows,
            out_dir,
            title=title or f"lmrec compare: {dataset.name}",
            context=context,
            metric=report_metric,
            ks=ks,
        )
        if json_path:
            write_json(rows, json_path)
            paths["json (--json)"] = json_path
        for kind, path in paths.items():
            console.print(f"  {kind}: {path}")
        if run is not None:
            asked = {
                "data": data, "models": models, "protocol": label, "seed": seed, "ks": ks,
                "tune": tune, "refit": refit, "exclude_seen": exclude_seen,
                "rerank": [spec.label for spec in specs_rerank], "set": sets or [],
            }  # fmt: skip
            log_comparison(run, asked, context, out_dir)
    return rows


def _metric_names(metrics: list[str]) -> list[str]:
    """`--metrics ndcg,recall --metrics mrr` -> ['ndcg', 'recall', 'mrr']."""
    return [m.strip() for text in metrics for m in text.split(",") if m.strip()]


def _selection(tune: bool, metric: str, any_set: bool) -> str:
    if tune:
        return (
            f"hyper-parameters tuned on validation {metric} (keys fixed with --set are not "
            "tuned), model fit on train only"
        )
    fixed = " except those fixed with --set" if any_set else ""
    return f"not tuned (--no-tune): default hyper-parameters{fixed}"


def _new_report_dir(root: Path) -> Path:
    """reports/compare/YYYY-MM-DD_HHMMSS, a fresh directory per run (a run in the same
    second gets a suffix), so an earlier report is never overwritten."""
    stamp = time.strftime("%Y-%m-%d_%H%M%S")
    candidate, n = root / stamp, 1
    while candidate.exists():
        n += 1
        candidate = root / f"{stamp}-{n}"
    return candidate


@with_data_options()
def compare(
    data: Annotated[
        str | None,
        typer.Option(
            "--data", metavar="NAME|PATH", help="dataset name or path \\[default: ml-100k]"
        ),
    ] = None,
    models: Annotated[
        str,
        typer.Option(
            metavar="NAMES",
            show_default=False,
            help="comma-separated model names \\[default: pop, itemknn, ease, als, bpr, mf]; "
            "LABEL=NAME runs a model under its own label, e.g. sasrec-id=sasrec with --set "
            "sasrec-id.item_repr=id",
        ),
    ] = "pop,itemknn,ease,als,bpr,mf",
    protocol: Annotated[
        str, typer.Option(metavar="NAME", help=f"split: {', '.join(PROTOCOLS)}")
    ] = "ratio",
    split_files: Annotated[
        str | None,
        typer.Option(
            "--split-files",
            metavar="FILES",
            help="your own split: three CSV files with a header (train, valid, test), "
            "comma-separated",
        ),
    ] = None,
    seed: Annotated[int, typer.Option(metavar="N", help="split seed")] = 42,
    k: Annotated[
        list[int] | None,
        typer.Option(
            "-k", metavar="K", help="cut-off of the ranking metrics, repeatable \\[default: 10]"
        ),
    ] = None,
    metrics: Annotated[
        list[str] | None,
        typer.Option(
            "--metrics",
            metavar="NAMES",
            help="metrics to report, e.g. ndcg,recall,coverage (default: all); tuning uses "
            "ndcg at the first -k",
        ),
    ] = None,
    json_path: Annotated[
        Path | None, typer.Option("--json", metavar="FILE", help="write results JSON here")
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out-dir",
            metavar="DIR",
            help="report directory (default: a new one per run in reports/compare)",
        ),
    ] = None,
    tune: Annotated[bool, typer.Option(help="tune each model's grid on validation")] = True,
    refit: Annotated[bool, typer.Option(help="also refit on train+valid (extra rows)")] = False,
    exclude_seen: Annotated[
        bool,
        typer.Option("--exclude-seen/--no-exclude-seen", help="remove seen items from rankings"),
    ] = True,
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            metavar="SETTING",
            help="MODEL.KEY=VALUE fixes a setting; MODEL.KEY=[V1,V2] tunes over those values",
        ),
    ] = None,
    rerank: Annotated[
        list[str] | None,
        typer.Option(
            "--rerank",
            metavar="SPEC",
            help="also test each model re-ranked: mmr:0.5 or calibrated:0.5 (repeatable; "
            "rows labelled 'model (mmr:0.5)')",
        ),
    ] = None,
    diversity: Annotated[
        bool,
        typer.Option(
            "--diversity/--no-diversity",
            help="intra-list diversity from item text embeddings (needs item text)",
        ),
    ] = True,
    device: DeviceOpt = None,
    threads: ThreadsOpt = None,
    progress: ProgressOpt = True,
    track: TrackOpt = None,
    tracking_uri: TrackingUriOpt = None,
    experiment: ExperimentOpt = DEFAULT_EXPERIMENT,
    *,
    data_args: DataArgs,
) -> None:
    """Train and test several models on one split; print a table and write a report.

    With --track each model is an MLflow run nested in the comparison's run: settings,
    test metrics, per-epoch figures of torch models; the report is logged with it."""
    opts = data_args.resolve()
    run_compare(
        data or opts.path or "ml-100k",
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
        data_options=opts,
        ks=k,
        metrics=metrics,
        device=device,
        threads=threads,
        progress=progress,
        reranks=rerank,
        diversity=diversity,
        track=track,
        tracking_uri=tracking_uri,
        experiment=experiment,
    )


def quickstart(
    out_dir: Annotated[Path, typer.Option("--out-dir", help="report directory")] = Path(
        "reports/quickstart"
    ),
    models: Annotated[
        str,
        typer.Option(
            metavar="NAMES",
            show_default=False,
            help="comma-separated model names \\[default: "
            + CLASSIC_MODELS.replace(",", ", ")
            + "]",
        ),
    ] = CLASSIC_MODELS,
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
    from lmrec.cli.data_options import DataOptions
    from lmrec.data import load_dataset
    from lmrec.models.registry import create_model
    from lmrec.store.default_model import set_default
    from lmrec.store.registry import ModelRegistry

    best = max(rows, key=lambda r: r.metrics.get("ndcg@10", float("-inf")))
    names = [best.family]
    if importlib.util.find_spec("sentence_transformers") is not None:
        names.insert(0, "content")  # served beside it, for search and cold start
    dataset = load_dataset("ml-100k")
    registry = ModelRegistry.default()
    for name in names:
        config = best.config if name == best.family else {}
        with console.status(f"fitting {name} on all of ml-100k for serving"):
            model = create_model(name, config).fit(dataset)
        metrics = best.metrics if name == best.family else {}
        with tempfile.TemporaryDirectory() as staging:
            # model.json records the data, so `lmrec train --from-store` can merge with it
            read = DataOptions().to_json()  # the defaults load_dataset read it with
            model.save(staging, extra={"data": "ml-100k", "data_options": read, "protocol": "none"})
            version = registry.register(staging, name, metrics=metrics)
        registry.promote(name, version)
        console.print(f"registered {name} version {version} in {registry.root} (lmrec serve)")
    set_default(registry, best.family)
    console.print(f"default model: {best.family} (change with `lmrec models default NAME`)")


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)
    app.command("quickstart")(quickstart)
