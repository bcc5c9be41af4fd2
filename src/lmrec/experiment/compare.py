"""Train several models on one split and evaluate them the same way.

The protocol follows RecBole's: hyper-parameters are chosen on the validation part,
the chosen model is fit on the training part only and tested once; refitting on
train + validation is optional and reported as a separate, labelled row.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from lmrec.data.dataset import Dataset
from lmrec.data.splitters import Split
from lmrec.evaluation.runner import EvaluationResult, evaluate
from lmrec.models.base import Recommender
from lmrec.models.registry import create_model, get_model_class

#: how many grid points tuning tries at most per model (keeps `compare` quick)
MAX_TRIALS = 12


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

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "protocol": self.protocol,
            "variant": self.variant,
            "metrics": self.metrics,
            "fit_seconds": round(self.fit_seconds, 3),
            "eval_seconds": round(self.eval_seconds, 3),
            "config": self.config,
            "tuning_trials": self.trials,
        }


Progress = Callable[[str], None]


def _grid_points(grid: dict[str, Sequence[Any]]) -> list[dict[str, Any]]:
    if not grid:
        return [{}]
    keys = sorted(grid)
    points = [
        dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))
    ]
    return points[:MAX_TRIALS]


def _eval_options(
    model: Recommender, split: Split, protocol: str, *, testing: bool, exclude_seen: bool
) -> dict[str, Any]:
    """What to exclude, which items compete, and which history the model reads."""
    seen = [split.train, split.valid] if testing else [split.train]
    options: dict[str, Any] = {"exclude": seen if exclude_seen else None}
    if protocol == "cold-items":
        # Only items never seen in training compete: the question is which new item fits.
        options["candidates"] = np.flatnonzero(split.train.item_counts() == 0)
    if testing and model.history_at_test_time:
        options["history"] = split.train.concat(split.valid)
    return options


def fit_and_evaluate(
    name: str,
    config: dict[str, Any],
    train: Dataset,
    target: Dataset,
    split: Split,
    protocol: str,
    *,
    testing: bool,
    ks: Sequence[int],
    exclude_seen: bool,
) -> tuple[Recommender, EvaluationResult, float, float]:
    model = create_model(name, config)
    t0 = time.perf_counter()
    model.fit(train, split.valid if not testing else None)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    opts = _eval_options(model, split, protocol, testing=testing, exclude_seen=exclude_seen)
    result = evaluate(model, target, ks=ks, **opts)
    return model, result, fit_s, time.perf_counter() - t0


def compare_models(
    split: Split,
    models: Sequence[str],
    protocol: str,
    *,
    settings: dict[str, dict[str, Any]] | None = None,
    ks: Sequence[int] = (10,),
    tune: bool = True,
    refit: bool = False,
    exclude_seen: bool = True,
    select_metric: str = "ndcg@10",
    progress: Progress | None = None,
) -> list[ModelResult]:
    """Tune each model on validation, fit on train, test once; optionally refit on
    train + validation (a separate row labelled 'train+valid')."""
    say = progress or (lambda _msg: None)
    rows: list[ModelResult] = []
    for name in models:
        base = dict((settings or {}).get(name, {}))
        cls = get_model_class(name)
        grid = getattr(cls, "tuning_grid", {}) if tune and len(split.valid) else {}
        grid = {k: v for k, v in grid.items() if k not in base}  # user-set keys stay fixed
        trials: list[dict[str, Any]] = []
        best_config, best_score = base, -np.inf
        points = _grid_points(grid)
        if len(points) > 1:
            for i, point in enumerate(points, 1):
                say(f"{name}: tuning {i}/{len(points)} {point}")
                cfg = {**base, **point}
                _, res, fit_s, _ = fit_and_evaluate(
                    name,
                    cfg,
                    split.train,
                    split.valid,
                    split,
                    protocol,
                    testing=False,
                    ks=ks,
                    exclude_seen=exclude_seen,
                )
                score = res.summary().get(select_metric, float("nan"))
                trials.append(
                    {**point, select_metric: round(score, 5), "fit_seconds": round(fit_s, 2)}
                )
                if score > best_score:
                    best_config, best_score = cfg, score
        say(f"{name}: fitting on train and testing")
        model, res, fit_s, eval_s = fit_and_evaluate(
            name,
            best_config,
            split.train,
            split.test,
            split,
            protocol,
            testing=True,
            ks=ks,
            exclude_seen=exclude_seen,
        )
        rows.append(
            ModelResult(
                name,
                protocol,
                res.summary(),
                fit_s,
                eval_s,
                model.config.model_dump(mode="json"),
                trials=trials,
                result=res,
            )
        )
        if refit and len(split.valid):
            say(f"{name}: refitting on train + valid")
            merged = Split(
                split.train.concat(split.valid),
                split.valid.subset(np.zeros(len(split.valid), bool)),
                split.test,
            )
            model, res, fit_s, eval_s = fit_and_evaluate(
                name,
                best_config,
                merged.train,
                split.test,
                merged,
                protocol,
                testing=True,
                ks=ks,
                exclude_seen=exclude_seen,
            )
            rows.append(
                ModelResult(
                    name,
                    protocol,
                    res.summary(),
                    fit_s,
                    eval_s,
                    model.config.model_dump(mode="json"),
                    variant="train+valid",
                    result=res,
                )
            )
    return rows


def results_frame(rows: Sequence[ModelResult]) -> pd.DataFrame:
    """One row per model: metrics columns plus fit/eval seconds."""
    records = []
    for r in rows:
        label = r.model if r.variant == "train" else f"{r.model} ({r.variant})"
        records.append(
            {"model": label, **r.metrics, "fit_s": r.fit_seconds, "eval_s": r.eval_seconds}
        )
    return pd.DataFrame.from_records(records)
