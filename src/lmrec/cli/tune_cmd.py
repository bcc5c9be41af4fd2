"""`lmrec tune`: Optuna (TPE) over a model's declared search space, on validation only;
the best configuration is tested once and written as a TOML for `lmrec train --config`."""

from __future__ import annotations

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
    progress_messages,
    split_data,
    tracking,
)
from lmrec.cli.data_options import DataArgs, with_data_options
from lmrec.core.settings_files import model_settings
from lmrec.experiment.tracking import DEFAULT_EXPERIMENT


@with_data_options()
def tune(
    model: Annotated[str, typer.Argument(help="model name: ease, als, itemknn, sasrec, hybrid")],
    data: Annotated[
        str | None, typer.Option("--data", metavar="NAME|PATH", help="dataset name or path")
    ] = None,
    trials: Annotated[
        int, typer.Option(min=1, help="trials to run (added to a resumed study)")
    ] = 20,
    study: Annotated[
        Path | None,
        typer.Option(help="SQLite file of the study (default runs/tune/MODEL.db); rerun to resume"),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="best configuration as TOML (default runs/tune/MODEL.toml)"),
    ] = None,
    protocol: Annotated[
        str, typer.Option(metavar="NAME", help=f"split: {', '.join(PROTOCOLS)}")
    ] = "ratio",
    seed: Annotated[int, typer.Option(help="split and sampler seed")] = 42,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", metavar="KEY=VALUE", help="fix a setting (not searched)"),
    ] = None,
    test: Annotated[
        bool, typer.Option("--test/--no-test", help="test the best configuration once at the end")
    ] = True,
    device: DeviceOpt = None,
    threads: ThreadsOpt = None,
    progress: ProgressOpt = False,
    track: TrackOpt = None,
    tracking_uri: TrackingUriOpt = None,
    experiment: ExperimentOpt = DEFAULT_EXPERIMENT,
    *,
    data_args: DataArgs,
) -> None:
    """Search a model's hyper-parameters on the validation part; prune torch models by
    their per-epoch validation NDCG@10; keep the study so a stopped search resumes.

    With --track the search is an MLflow run with one nested run per trial (a resumed
    study logs all its trials again, in a new run)."""
    from lmrec.evaluation.study import search
    from lmrec.experiment.compare import fit_and_evaluate
    from lmrec.experiment.tracking_logs import log_search
    from lmrec.models.registry import get_model_class

    get_model_class(model)  # a typo fails before the data loads
    opts = data_args.resolve()
    fixed = model_settings(opts.config, set_)
    dataset = opts.load(data or opts.path or "ml-100k")
    split = split_data(dataset, protocol, seed)
    study = study or Path("runs/tune") / f"{model}.db"
    out = out or Path("runs/tune") / f"{model}.toml"
    with (
        tracking(track, tracking_uri, experiment, f"tune {model}", "tune") as run,
        progress_messages(f"tune {model}") as say,
    ):
        options = fit_options(device, threads, progress, say)
        result = search(
            model, split.train, split.valid, trials=trials, storage=study, fixed=fixed,
            seed=seed, options=options, say=say,
        )  # fmt: skip
        console.print(
            f"{model}: best validation {result.metric} {result.best_value:.4f} over "
            f"{result.n_complete} complete trials ({result.n_pruned} pruned, "
            f"{result.n_failed} failed); study {study}"
        )
        console.print("best configuration: " + _inline(result.best_config))
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(to_toml(model, result.best_config, result.best_value, result.metric))
        console.print(f"written to {out}: lmrec train {model} --config {out} ...")
        if run is not None:
            asked = {"data": data or opts.path or "ml-100k", "protocol": protocol, "seed": seed,
                     "trials": trials, "study": str(study)}  # fmt: skip
            log_search(run, model, fixed, asked, result, out)
        if test:
            say("fitting the best configuration on train and testing once")
            _, res, fit_s, _ = fit_and_evaluate(
                model, result.best_config, split, protocol, ks=(10,), exclude_seen=True,
                options=options,
            )  # fmt: skip
            summary = res.summary()
            if run is not None:
                run.metrics({f"test_{k}": v for k, v in summary.items()})
            console.print(
                f"test (once): ndcg@10 {summary['ndcg@10']:.4f}, recall@10 "
                f"{summary['recall@10']:.4f} (fit {fit_s:.1f}s)"
            )


def to_toml(model: str, config: dict[str, Any], value: float, metric: str) -> str:
    lines = [
        f"# lmrec tune {model}: best validation {metric} {value:.4f}",
        "[model]",
        f'name = "{model}"',
    ]
    lines += [f"{key} = {_toml_value(v)}" for key, v in sorted(config.items())]
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _inline(config: dict[str, Any]) -> str:
    return ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(config.items())
    )


def register(app: typer.Typer) -> None:
    app.command("tune")(tune)
