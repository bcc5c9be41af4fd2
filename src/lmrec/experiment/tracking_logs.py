"""What `train`, `compare` and `tune` log to a tracked run (lmrec.experiment.tracking):
parameters, test or validation metrics, per-epoch figures of torch models, figures and
the files a command wrote."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lmrec.models.base import Recommender

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from lmrec.evaluation.study import SearchResult
    from lmrec.experiment.compare import ModelResult
    from lmrec.experiment.tracking import TrackedRun


def log_training(
    run: TrackedRun,
    model: Recommender[Any],
    meta: Mapping[str, Any],
    n_interactions: int,
    model_dir: Path,
) -> None:
    """`lmrec train`: the model's settings, where its data came from, the fit time, the
    per-epoch loss and validation NDCG@10 (torch models) with their curve, and the saved
    model directory (under `model/`)."""
    run.params({"model": model.name, **model.config.model_dump(mode="json")})
    run.params({k: meta[k] for k in ("data", "protocol", "split_seed") if k in meta}, prefix="run.")
    fit_seconds = float(meta.get("fit_seconds", 0.0))
    run.metrics({"fit_seconds": fit_seconds, "train_interactions": float(n_interactions)})
    history = model.training_history()
    run.epochs(history)
    if history:
        run.figure(training_curve(history, model.name), "training_curve.png")
    run.files(model_dir, "model")


def log_comparison_row(run: TrackedRun, row: ModelResult, select_metric: str) -> None:
    """One row of `lmrec compare` as a nested run: its configuration, test metrics,
    timings, the tuning trials' validation scores (`select_metric`, one step per grid
    point) and, for torch models, the per-epoch figures of the fit that was tested."""
    label = row.model if row.variant == "train" else f"{row.model} ({row.variant})"
    with run.child(label) as child:
        child.params({"model": row.family, "label": row.model, "variant": row.variant})
        child.params(row.config, prefix="config.")
        if row.tuned_over:
            child.params({k: str(v) for k, v in row.tuned_over.items()}, prefix="tuned_over.")
        child.metrics(
            {**row.metrics, "fit_seconds": row.fit_seconds, "eval_seconds": row.eval_seconds}
        )
        for step, trial in enumerate(row.trials, start=1):
            child.metrics({f"tuning_valid_{select_metric}": trial.get(select_metric)}, step=step)
        if row.model_obj is not None and row.variant in ("train", "train+valid"):
            child.epochs(row.model_obj.training_history())


def log_comparison(
    run: TrackedRun, settings: Mapping[str, Any], context: Mapping[str, str], report_dir: Path
) -> None:
    """The comparison as a whole: its settings, the protocol in words, and the report
    (tables, charts, paired tests) as artifacts under `report/`."""
    run.params(settings)
    run.tags({f"lmrec.{k}": v for k, v in context.items()})
    run.files(report_dir, "report")


def log_search(
    run: TrackedRun,
    model: str,
    fixed: Mapping[str, Any],
    settings: Mapping[str, Any],
    result: SearchResult,
    config_file: Path,
) -> None:
    """`lmrec tune`: one nested run per trial (its parameters, state, validation score
    and, as epoch_valid_*, the sampled score after every epoch it reported), the best
    configuration and score on the parent run, the search's history as a figure and the
    TOML written."""
    run.params({"model": model, **settings})
    run.params(dict(fixed), prefix="fixed.")
    for trial in result.trials:
        with run.child(f"trial {trial['number']}") as child:
            child.params({k: v for k, v in trial.items() if k not in _TRIAL_FIELDS})
            child.tags({"lmrec.trial_state": trial["state"]})
            if trial.get("value") is not None:
                child.metrics({f"valid_{result.metric}": trial["value"]})
            for step, value in sorted(trial.get("intermediate", {}).items()):
                child.metrics({f"epoch_valid_{result.metric}": value}, step=int(step) + 1)
    run.params(result.best_config, prefix="best.")
    run.metrics(
        {
            f"best_valid_{result.metric}": result.best_value,
            "trials_complete": result.n_complete,
            "trials_pruned": result.n_pruned,
            "trials_failed": result.n_failed,
        }
    )
    run.figure(search_history(result.trials, result.metric, model), "search_history.png")
    run.files(config_file, "config")


_TRIAL_FIELDS = ("number", "state", "value", "intermediate", "fit_seconds")


def training_curve(history: Sequence[Mapping[str, float]], name: str) -> Figure:
    """Loss and validation NDCG@10 per epoch, side by side."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.2))
    loss_ax, metric_ax = fig.subplots(1, 2)
    epochs = [r["epoch"] for r in history]
    loss_ax.plot(epochs, [r["loss"] for r in history], marker="o")
    loss_ax.set(title=f"{name}: training loss", xlabel="epoch", ylabel="loss")
    valid = [(r["epoch"], r["valid_ndcg@10"]) for r in history if "valid_ndcg@10" in r]
    if valid:
        metric_ax.plot(*zip(*valid, strict=True), marker="o", color="tab:green")
    metric_ax.set(title="validation NDCG@10", xlabel="epoch")
    fig.tight_layout()
    return fig


def search_history(trials: Sequence[Mapping[str, Any]], metric: str, name: str) -> Figure:
    """Each complete trial's validation score and the best so far, in trial order."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 3.5))
    ax = fig.subplots()
    done = [(t["number"], t["value"]) for t in trials if t.get("value") is not None]
    if done:
        numbers, values = zip(*done, strict=True)
        best = [max(values[: i + 1]) for i in range(len(values))]
        ax.scatter(numbers, values, label="trial")
        ax.step(numbers, best, where="post", color="tab:red", label="best so far")
        ax.legend()
    ax.set(title=f"lmrec tune {name}", xlabel="trial", ylabel=f"validation {metric}")
    fig.tight_layout()
    return fig
