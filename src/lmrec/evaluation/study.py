"""Deep hyper-parameter search: Optuna's TPE sampler over a model's declared
`search_space`, validation only. Torch models report every epoch's validation metric
through FitOptions.on_epoch, so unpromising trials are pruned mid-training (median rule).
The study lives in an SQLite file: running the same search again resumes it.

Optuna is the `tune` extra, imported only here and only when a search runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmrec.core.options import FitOptions
from lmrec.core.search_space import Choice, Dimension, Float, Int
from lmrec.data.dataset import Dataset
from lmrec.errors import ConfigError, UnsupportedError
from lmrec.evaluation.runner import evaluate
from lmrec.models.registry import create_model, get_model_class

Say = Callable[[str], None]


@dataclass
class SearchResult:
    model: str
    best_config: dict[str, Any]
    best_value: float
    metric: str
    n_complete: int
    n_pruned: int
    n_failed: int
    storage: str
    study_name: str
    #: every trial of the study: number, state, value, its parameters, and the validation
    #: value it reported after each epoch ("intermediate": {epoch: value}, torch models)
    trials: list[dict[str, Any]] = field(default_factory=list)


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise UnsupportedError(
            "lmrec tune needs Optuna, in the tune extra: `pip install lmrec[tune]`"
        ) from None
    return optuna


def suggest(trial: Any, key: str, dim: Dimension) -> Any:
    if isinstance(dim, Float):
        return trial.suggest_float(key, dim.low, dim.high, log=dim.log)
    if isinstance(dim, Int):
        return trial.suggest_int(key, dim.low, dim.high, log=dim.log)
    assert isinstance(dim, Choice)
    return trial.suggest_categorical(key, list(dim.values))


def search(
    name: str,
    train: Dataset,
    valid: Dataset,
    *,
    trials: int,
    storage: Path,
    study_name: str | None = None,
    fixed: dict[str, Any] | None = None,
    metric: str = "ndcg@10",
    seed: int = 0,
    options: FitOptions | None = None,
    say: Say | None = None,
    on_trial: Callable[[dict[str, Any]], None] | None = None,
) -> SearchResult:
    """Run `trials` more trials (those already in the study count toward nothing: a
    resumed search adds `trials` to what is there) and return the best so far."""
    optuna = _optuna()
    say = say or (lambda _m: None)
    fixed = dict(fixed or {})
    space = {k: v for k, v in get_model_class(name).search_space.items() if k not in fixed}
    if not space:
        raise ConfigError(
            f"model '{name}' declares no search space (or every key in it is fixed with "
            "--set); models with one: ease, als, itemknn, sasrec, hybrid"
        )
    if not len(valid):
        raise ConfigError("tuning needs a validation part: use a protocol with one")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage.parent.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{storage}"
    study = optuna.create_study(
        study_name=study_name or f"lmrec-{name}",
        storage=url,
        direction="maximize",
        load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=2),
    )
    before = len(study.trials)
    # a resumed study gets a sampler seeded past the trials it has, so its first random
    # draws do not repeat the ones already tried
    study.sampler = optuna.samplers.TPESampler(seed=seed + before)
    if before:
        say(f"resuming study '{study.study_name}' in {storage} ({before} trials so far)")
    base = options or FitOptions()

    def objective(trial: Any) -> float:
        config = {**fixed, **{k: suggest(trial, k, d) for k, d in space.items()}}

        def on_epoch(epoch: int, value: float | None) -> None:
            if value is None:
                return
            trial.report(value, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"epoch {epoch + 1}: {metric} {value:.4f}")

        started = time.perf_counter()
        model = create_model(name, config)
        run = model.options.under(base.updated(on_epoch=on_epoch))
        model.fit(train, valid, run)
        value = evaluate(model, valid, exclude=train, ks=(10,), metrics=[metric]).summary()[metric]
        trial.set_user_attr("fit_seconds", round(time.perf_counter() - started, 3))
        return float(value)

    def after(study: Any, trial: Any) -> None:
        done = trial.number - before + 1
        state = trial.state.name.lower()
        shown = "" if trial.value is None else f" {metric} {trial.value:.4f}"
        best = _best_value(study)
        say(
            f"trial {done}/{trials} {state}{shown}"
            + (f", best {best:.4f}" if best is not None else "")
            + f" ({', '.join(f'{k}={_short(v)}' for k, v in trial.params.items())})"
        )
        if on_trial is not None:
            on_trial({"number": trial.number, "state": state, "value": trial.value,
                      **trial.params})  # fmt: skip

    study.optimize(objective, n_trials=trials, callbacks=[after], catch=(ConfigError,))
    complete = _done(optuna, study)
    if not complete:
        raise ConfigError(f"no trial of '{name}' finished: every one was pruned or failed")
    states = [t.state.name for t in study.trials]
    return SearchResult(
        model=name,
        best_config={**fixed, **study.best_trial.params},
        best_value=float(study.best_value),
        metric=metric,
        n_complete=len(complete),
        n_pruned=states.count("PRUNED"),
        n_failed=states.count("FAIL"),
        storage=url,
        study_name=study.study_name,
        trials=[
            {
                "number": t.number,
                "state": t.state.name.lower(),
                "value": t.value,
                **t.params,
                "intermediate": dict(t.intermediate_values),
            }
            for t in study.trials
        ],
    )


def _done(optuna: Any, study: Any) -> list[Any]:
    if study is None:
        return []
    return [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]


def _best_value(study: Any) -> float | None:
    try:
        return float(study.best_value)
    except ValueError:  # no complete trial yet
        return None


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
