"""Train several models on one split and evaluate them the same way.

The protocol follows RecBole's: hyper-parameters are chosen on the validation part,
the chosen model is fit on the training part only and tested once; refitting on
train + validation is optional and reported as a separate, labelled row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lmrec.core.options import FitOptions
from lmrec.core.rerank import Reranker, RerankSpec
from lmrec.data.dataset import Dataset
from lmrec.data.splitters import Split
from lmrec.errors import ConfigError
from lmrec.evaluation.runner import EvaluationResult, evaluate
from lmrec.evaluation.tuning import MAX_TRIALS, Tuning, grid_points
from lmrec.evaluation.tuning import tune as tune_config
from lmrec.models.base import Recommender
from lmrec.models.registry import create_model, get_model_class
from lmrec.models.reranking import reranker_from_items

#: how many grid points tuning tries at most per model (keeps `compare` quick)


@dataclass
class ModelResult:
    """One row of a comparison: a model's test metrics and what it cost."""

    model: str
    protocol: str
    metrics: dict[str, float]
    fit_seconds: float
    eval_seconds: float
    config: dict[str, Any]
    variant: str = "train"
    trials: list[dict[str, Any]] = field(default_factory=list)
    result: EvaluationResult | None = None
    #: the registry name behind `model` when the row is a labelled variant (sasrec-id=sasrec)
    family: str = ""
    #: settings the user fixed (`--set`), and the values tuning chose among, per key
    fixed: dict[str, Any] = field(default_factory=dict)
    tuned_over: dict[str, list[Any]] = field(default_factory=dict)
    #: the fitted model (not saved; re-ranked variants reuse it)
    model_obj: Recommender | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.family = self.family or self.model

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "family": self.family,
            "protocol": self.protocol,
            "variant": self.variant,
            "metrics": self.metrics,
            "fit_seconds": round(self.fit_seconds, 3),
            "eval_seconds": round(self.eval_seconds, 3),
            "config": self.config,
            "fixed": self.fixed,
            "tuned_over": self.tuned_over,
            "tuning_trials": self.trials,
        }


Progress = Callable[[str], None]


def parse_model_specs(models: str | Sequence[str]) -> list[tuple[str, str]]:
    """`"ease,sasrec-id=sasrec"` -> [("ease", "ease"), ("sasrec-id", "sasrec")].

    A LABEL=MODEL entry runs a registered model under its own name, so one comparison can
    hold several configurations of the same model (each set with `--set LABEL.key=value`)."""
    entries = models.split(",") if isinstance(models, str) else list(models)
    specs: list[tuple[str, str]] = []
    for entry in (e.strip() for e in entries):
        if not entry:
            continue
        label, eq, family = entry.partition("=")
        label, family = label.strip(), (family.strip() if eq else label.strip())
        if not label or not family:
            raise ConfigError(f"model entry {entry!r}: write NAME or LABEL=NAME")
        if label in (s[0] for s in specs):
            raise ConfigError(f"model label {label!r} appears twice; give each run its own label")
        specs.append((label, family))
    return specs


def _config_for(
    label: str, family: str, settings: dict[str, dict[str, Any]] | None
) -> dict[str, Any]:
    """Settings for the model name apply to every variant; a label's own settings win."""
    settings = settings or {}
    return {**settings.get(family, {}), **(settings.get(label, {}) if label != family else {})}


def split_grid(name: str, config: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Settings -> (fixed values, grid). A list is a grid to tune over (`--set
    'ease.reg=[100,300,1000]'`) unless the model takes that list as one value (fusion's
    members)."""
    fixed: dict[str, Any] = {}
    grid: dict[str, list[Any]] = {}
    for key, value in config.items():
        if isinstance(value, list) and not _takes_as_one_value(name, key, value):
            if not value:
                raise ConfigError(f"{name}.{key}=[]: give at least one value to tune over")
            grid[key] = value
        else:
            fixed[key] = value
    return fixed, grid


def _takes_as_one_value(name: str, key: str, value: list[Any]) -> bool:
    try:
        create_model(name, {key: value})  # constructing only validates the config
    except ConfigError:
        return False
    return True


def fit_and_evaluate(
    name: str,
    config: dict[str, Any],
    split: Split,
    protocol: str,
    *,
    ks: Sequence[int],
    exclude_seen: bool,
    fitted: tuple[Recommender, float] | None = None,
    metrics: Sequence[str] | None = None,
    options: FitOptions | None = None,
    item_vectors: np.ndarray | None = None,
    rerank: Reranker | None = None,
) -> tuple[Recommender, EvaluationResult, float, float]:
    """Fit on train (validation only for early stopping) and test once; `fitted` is a
    model already fit that way and its fit seconds."""
    if fitted is None:
        model = create_model(name, config)
        t0 = time.perf_counter()
        run = model.options.under(options or FitOptions())
        model.fit(split.train, split.valid if len(split.valid) else None, run)
        fit_s = time.perf_counter() - t0
    else:
        model, fit_s = fitted
    t0 = time.perf_counter()
    seen = [split.train, split.valid]
    result = evaluate(
        model,
        split.test,
        ks=ks,
        metrics=metrics,
        exclude=seen if exclude_seen else None,
        candidates=_cold_candidates(split, protocol),
        history=split.train.concat(split.valid) if model.history_at_test_time else None,
        item_vectors=item_vectors,
        rerank=rerank,
    )
    return model, result, fit_s, time.perf_counter() - t0


def _cold_candidates(split: Split, protocol: str) -> np.ndarray | None:
    """Under cold-items only items never seen in training compete: the question is which
    new item fits a user, not whether new beats old."""
    if protocol != "cold-items":
        return None
    return np.flatnonzero(split.train.item_counts() == 0)


def compare_models(
    split: Split,
    models: str | Sequence[str],
    protocol: str,
    *,
    settings: dict[str, dict[str, Any]] | None = None,
    ks: Sequence[int] = (10,),
    metrics: Sequence[str] | None = None,
    tune: bool = True,
    refit: bool = False,
    exclude_seen: bool = True,
    select_metric: str = "ndcg@10",
    progress: Progress | None = None,
    options: FitOptions | None = None,
    item_vectors: np.ndarray | None = None,
    reranks: Sequence[RerankSpec] = (),
    on_row: Callable[[ModelResult], None] | None = None,
) -> list[ModelResult]:
    """Tune each model on validation, fit on train, test once; optionally refit on
    train + validation (a separate row labelled 'train+valid'). `models` entries are
    registry names or LABEL=NAME pairs (see `parse_model_specs`). A setting given as a
    list is a grid: tuning tries those values instead of the model's own grid for that
    key; a single value fixes the key. `metrics` (None: all) are reported at every k.
    `item_vectors` (item text embeddings) add intra-list diversity; each of `reranks` adds a
    row per model labelled with it: the same fitted model, its top items re-ranked.
    `on_row` sees each row as soon as it is tested, its fitted model still attached
    (experiment tracking logs it there)."""
    say = progress or (lambda _msg: None)
    rerankers = [build_reranker(spec, split.train, item_vectors) for spec in reranks]
    rows: list[ModelResult] = []

    def keep(row: ModelResult) -> None:
        rows.append(row)
        if on_row is not None:
            on_row(row)

    for label, name in parse_model_specs(models):
        fixed, user_grid = split_grid(name, _config_for(label, name, settings))
        if user_grid and not tune:
            key = next(iter(user_grid))
            raise ConfigError(
                f"{label}.{key} is a list of values to tune over, but tuning is off "
                "(--no-tune): give one value, or tune"
            )
        if user_grid and not len(split.valid):
            raise ConfigError(
                f"{label}: values to tune over were given, but the split has no validation "
                "part to choose among them"
            )
        grid: dict[str, Sequence[Any]] = {**_model_grid(name, fixed), **user_grid} if tune else {}
        points = grid_points(grid, MAX_TRIALS) if grid else []
        config, trials, tuned_over = dict(fixed), [], {}
        found: Tuning | None = None
        if len(points) == 1:  # nothing to choose: the one value is as good as fixed
            config.update(points[0])
        elif points and len(split.valid):
            found = tune_config(
                name, fixed, grid, split.train, split.valid,
                metric=select_metric, max_trials=MAX_TRIALS, progress=say,
                candidates=_cold_candidates(split, protocol), exclude_seen=exclude_seen,
                options=options,
            )  # fmt: skip
            config, tuned_over = found.config, grid
            trials = found.trials.drop(columns="best").round(5).to_dict(orient="records")
        run = _Run(label, name, config, protocol, ks, exclude_seen, metrics, options, item_vectors)
        extra: dict[str, Any] = {"trials": trials, "fixed": fixed, "tuned_over": tuned_over}
        if found is not None and found.model is not None:
            say(f"{label}: testing the best tuned model (already fit on train)")
            keep(run.test_row(split, fitted=(found.model, found.fit_seconds), **extra))
        else:
            say(f"{label}: fitting on train and testing")
            keep(run.test_row(split, **extra))
        base = rows[-1]
        for reranker in rerankers:
            say(f"{label}: re-ranking with {reranker.spec.label} and testing")
            assert base.model_obj is not None
            fitted = (base.model_obj, base.fit_seconds)
            keep(run.test_row(split, variant=reranker.spec.label, fitted=fitted, rerank=reranker))
            rows[-1].model_obj = None
        base.model_obj = None  # fitted models are not kept past their variants
        if refit and len(split.valid):
            say(f"{label}: refitting on train + valid")
            nothing = split.valid.subset(np.empty(0, dtype=np.int64))
            merged = Split(split.train.concat(split.valid), nothing, split.test)
            keep(run.test_row(merged, variant="train+valid", fixed=fixed))
            rows[-1].model_obj = None
    return rows


def _model_grid(name: str, fixed: dict[str, Any]) -> dict[str, list[Any]]:
    grid = get_model_class(name).tuning_grid
    return {k: list(v) for k, v in grid.items() if k not in fixed}


@dataclass(frozen=True)
class _Run:
    """One model configuration as the comparison fits and tests it."""

    label: str
    family: str
    config: dict[str, Any]
    protocol: str
    ks: Sequence[int]
    exclude_seen: bool
    metrics: Sequence[str] | None = None
    options: FitOptions | None = None
    item_vectors: np.ndarray | None = None

    def test_row(
        self,
        split: Split,
        variant: str = "train",
        trials: list[dict[str, Any]] | None = None,
        fitted: tuple[Recommender, float] | None = None,
        fixed: dict[str, Any] | None = None,
        tuned_over: dict[str, list[Any]] | None = None,
        rerank: Reranker | None = None,
    ) -> ModelResult:
        model, res, fit_s, eval_s = fit_and_evaluate(
            self.family, self.config, split, self.protocol,
            ks=self.ks, exclude_seen=self.exclude_seen, fitted=fitted, metrics=self.metrics,
            options=self.options, item_vectors=self.item_vectors, rerank=rerank,
        )  # fmt: skip
        return ModelResult(
            self.label, self.protocol, res.summary(), fit_s, eval_s,
            model.config.model_dump(mode="json"), variant=variant, trials=trials or [],
            result=res, family=self.family, fixed=dict(fixed or {}),
            tuned_over=dict(tuned_over or {}), model_obj=model,
        )  # fmt: skip


def build_reranker(spec: RerankSpec, data: Dataset, item_vectors: np.ndarray | None) -> Reranker:
    """The re-ranker for `spec` over `data`'s catalogue: item text embeddings for mmr, the
    items' genres for calibrated (see lmrec.models.reranking)."""
    return reranker_from_items(spec, data.items, item_vectors)


def results_frame(rows: Sequence[ModelResult]) -> pd.DataFrame:
    """One row per model: metrics columns plus fit/eval seconds."""
    records = []
    for r in rows:
        label = r.model if r.variant == "train" else f"{r.model} ({r.variant})"
        records.append(
            {"model": label, **r.metrics, "fit_s": r.fit_seconds, "eval_s": r.eval_seconds}
        )
    return pd.DataFrame.from_records(records)
