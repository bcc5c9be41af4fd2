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

from lmrec.data.splitters import Split
from lmrec.evaluation.runner import EvaluationResult, evaluate
from lmrec.evaluation.tuning import grid_points, select_config
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


def fit_and_evaluate(
    name: str,
    config: dict[str, Any],
    split: Split,
    protocol: str,
    *,
    ks: Sequence[int],
    exclude_seen: bool,
) -> tuple[Recommender, EvaluationResult, float, float]:
    """Fit on train (validation only for early stopping) and test once."""
    model = create_model(name, config)
    t0 = time.perf_counter()
    model.fit(split.train, split.valid if len(split.valid) else None)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    seen = [split.train, split.valid]
    result = evaluate(
        model,
        split.test,
        ks=ks,
        exclude=seen if exclude_seen else None,
        candidates=_cold_candidates(split, protocol),
        history=split.train.concat(split.valid) if model.history_at_test_time else None,
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
        config, trials = dict((settings or {}).get(name, {})), []
        if tune and len(split.valid) and len(_grid_points(name, config)) > 1:
            config, table = select_config(
                name, config, None, split.train, split.valid,
                metric=select_metric, max_trials=MAX_TRIALS, progress=say,
                candidates=_cold_candidates(split, protocol), exclude_seen=exclude_seen,
            )  # fmt: skip
            trials = table.drop(columns="best").round(5).to_dict(orient="records")
        say(f"{name}: fitting on train and testing")
        rows.append(_test_row(name, config, split, protocol, ks, exclude_seen, trials=trials))
        if refit and len(split.valid):
            say(f"{name}: refitting on train + valid")
            merged = Split(split.train.concat(split.valid), split.valid.subset([]), split.test)
            rows.append(_test_row(name, config, merged, protocol, ks, exclude_seen, "train+valid"))
    return rows


def _grid_points(name: str, fixed: dict[str, Any]) -> list[dict[str, Any]]:
    grid = getattr(get_model_class(name), "tuning_grid", {})
    return grid_points({k: v for k, v in grid.items() if k not in fixed}, MAX_TRIALS)


def _test_row(
    name: str,
    config: dict[str, Any],
    split: Split,
    protocol: str,
    ks: Sequence[int],
    exclude_seen: bool,
    variant: str = "train",
    trials: list[dict[str, Any]] | None = None,
) -> ModelResult:
    model, res, fit_s, eval_s = fit_and_evaluate(
        name, config, split, protocol, ks=ks, exclude_seen=exclude_seen
    )
    return ModelResult(
        name, protocol, res.summary(), fit_s, eval_s, model.config.model_dump(mode="json"),
        variant=variant, trials=trials or [], result=res,
    )  # fmt: skip


def results_frame(rows: Sequence[ModelResult]) -> pd.DataFrame:
    """One row per model: metrics columns plus fit/eval seconds."""
    records = []
    for r in rows:
        label = r.model if r.variant == "train" else f"{r.model} ({r.variant})"
        records.append(
            {"model": label, **r.metrics, "fit_s": r.fit_seconds, "eval_s": r.eval_seconds}
        )
    return pd.DataFrame.from_records(records)
