"""Hyper-parameter selection on a validation split: fit on train, rank on valid.

Grid search over the combinations of a small grid; when the grid has more combinations
than `max_trials`, a seeded random subset of them is tried instead (random search finds
good settings with far fewer trials when only a few parameters matter).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from lmrec.core.options import FitOptions
from lmrec.data.dataset import Dataset
from lmrec.errors import ConfigError, DataError
from lmrec.evaluation.metrics import lower_is_better
from lmrec.evaluation.runner import evaluate, metric_label
from lmrec.models.base import Recommender
from lmrec.models.registry import create_model, get_model_class

#: most configurations a grid search fits (a model's own `tuning_grid` stays within it)
MAX_TRIALS = 12


def grid_points(
    grid: dict[str, Sequence[Any]], max_trials: int | None = None, seed: int = 0
) -> list[dict[str, Any]]:
    """Every combination of the grid (keys in sorted order), or a seeded random subset
    of `max_trials` of them kept in grid order."""
    for key, values in grid.items():
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
            raise ConfigError(f"grid entry '{key}' must be a non-empty list of values")
    keys = sorted(grid)
    points = [
        dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))
    ]
    if max_trials is not None:
        if max_trials < 1:
            raise ConfigError(f"max_trials must be at least 1 (got {max_trials})")
        if len(points) > max_trials:
            chosen = np.random.default_rng(seed).choice(len(points), max_trials, replace=False)
            points = [points[i] for i in np.sort(chosen)]
    return points


@dataclass
class Tuning:
    """What a search found: the best full config, one row per trial (best marked), and
    the best trial's model, fitted on train (refitting it would repeat the same work)."""

    config: dict[str, Any]
    trials: pd.DataFrame
    model: Recommender | None
    fit_seconds: float


def select_config(
    model_name: str,
    base_config: dict[str, Any] | None,
    grid: dict[str, Sequence[Any]] | None,
    train: Dataset,
    valid: Dataset,
    *,
    metric: str = "ndcg@10",
    max_trials: int | None = MAX_TRIALS,
    seed: int = 0,
    candidates: Any = None,
    exclude_seen: bool = True,
    progress: Callable[[str], None] | None = None,
) -> tuple[dict[str, Any], pd.DataFrame]:
    """Fit `model_name` on `train` for each grid point and keep the best on `valid`;
    returns the best full config and the trials table (see `tune`)."""
    found = tune(
        model_name, base_config, grid, train, valid, metric=metric, max_trials=max_trials,
        seed=seed, candidates=candidates, exclude_seen=exclude_seen, progress=progress,
    )  # fmt: skip
    return found.config, found.trials


def tune(
    model_name: str,
    base_config: dict[str, Any] | None,
    grid: dict[str, Sequence[Any]] | None,
    train: Dataset,
    valid: Dataset,
    *,
    metric: str = "ndcg@10",
    max_trials: int | None = MAX_TRIALS,
    seed: int = 0,
    candidates: Any = None,
    exclude_seen: bool = True,
    progress: Callable[[str], None] | None = None,
    options: FitOptions | None = None,
) -> Tuning:
    """Fit `model_name` on `train` for each grid point and keep the best on `valid`.

    grid: config key -> values to try; None uses the model class's `tuning_grid`, in
    which case keys already set in `base_config` stay fixed. Validation ranks all items
    (or only `candidates`) except the user's training items (kept when `exclude_seen` is
    false); `progress` receives one line per trial. The trials table has one row per
    trial (the grid values, the metric, fit and evaluation seconds), best marked.
    """
    base = dict(base_config or {})
    if grid is None:
        cls = get_model_class(model_name)
        grid = {k: v for k, v in cls.tuning_grid.items() if k not in base}
    if len(valid) == 0:
        raise DataError("the validation data is empty: split off a validation part to tune on")
    points = grid_points(grid, max_trials, seed)
    key = metric_label(metric)
    smaller = lower_is_better(key)
    rows: list[dict[str, Any]] = []
    best_i, best_score = -1, np.inf if smaller else -np.inf
    best_model, best_fit_s = None, 0.0
    for i, point in enumerate(points):
        if progress is not None:
            progress(f"{model_name}: tuning {i + 1}/{len(points)} {point}")
        config = {**base, **point}
        model = create_model(model_name, config)
        t0 = time.perf_counter()
        model.fit(train, valid, model.options.under(options or FitOptions()))
        fit_s = time.perf_counter() - t0
        history = train if model.history_at_test_time else None
        result = evaluate(
            model,
            valid,
            exclude=[train] if exclude_seen else None,
            metrics=[key],
            history=history,
            candidates=candidates,
        )
        summary = result.summary()
        if key not in summary:
            raise ConfigError(f"metric '{metric}' is not computed per user or catalogue-wide")
        score = summary[key]
        rows.append(
            {**point, key: score, "fit_seconds": fit_s, "eval_seconds": result.meta["seconds"]}
        )
        better = score < best_score if smaller else score > best_score
        if not np.isnan(score) and (best_i < 0 or better):
            best_i, best_score = i, score
            best_model, best_fit_s = model, fit_s
    trials = pd.DataFrame(rows)
    trials.index.name = "trial"
    trials["best"] = trials.index == best_i
    best_point = points[best_i] if best_i >= 0 else points[0]
    return Tuning({**base, **best_point}, trials, best_model, best_fit_s)
