"""Experiment tracking with MLflow: parameters, metrics (per epoch too), figures and files
of `lmrec compare`, `lmrec tune` and `lmrec train` runs, for comparing runs later in
MLflow's UI or client.

Tracking is on when a command gets `--track` or `--tracking-uri URI`, or when
$LMREC_TRACKING_URI is set. The default store is an SQLite file under the lmrec home
(`mlflow.db`, artifacts in `mlflow-artifacts/` beside it); any MLflow tracking URI works
(another SQLite file, PostgreSQL, a tracking server's http address).

MLflow is the `track` extra, imported only here and only when a run is tracked: commands
run without tracking never import it.
"""

from __future__ import annotations

import logging
import math
import os
import re
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lmrec.core.paths import lmrec_home
from lmrec.errors import ConfigError, UnsupportedError

ENV_URI = "LMREC_TRACKING_URI"
DEFAULT_EXPERIMENT = "lmrec"
#: MLflow keeps parameter values up to this many characters
_MAX_PARAM = 6000
#: characters MLflow accepts in metric and parameter names (others become _)
_BAD_KEY = re.compile(r"[^A-Za-z0-9_\-. :/]")


def default_uri(home: str | Path | None = None) -> str:
    return f"sqlite:///{(lmrec_home(home) / 'mlflow.db').resolve()}"


def resolve_uri(track: bool | None, uri: str | None) -> str | None:
    """The tracking URI to use, or None when tracking is off: --tracking-uri, else off
    with --no-track, else $LMREC_TRACKING_URI (which turns tracking on by itself), else
    the default SQLite file when --track was given."""
    if uri:
        return uri
    if track is False:
        return None
    env = os.environ.get(ENV_URI, "").strip()
    if env:
        return env
    return default_uri() if track else None


def metric_key(name: str) -> str:
    """An lmrec metric name as MLflow accepts it: ndcg@10 -> ndcg_at_10."""
    return _BAD_KEY.sub("_", name.replace("@", "_at_"))


def flat_params(values: Mapping[str, Any], prefix: str = "") -> dict[str, str]:
    """Nested settings as MLflow parameters: {"text": {"template": t}} -> text.template."""
    out: dict[str, str] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flat_params(value, f"{name}."))
        else:
            out[_BAD_KEY.sub("_", name)] = str(value)[:_MAX_PARAM]
    return out


class TrackedRun:
    """One MLflow run: log parameters, metrics, figures and files to it; `child` starts a
    nested run (one per model in a comparison, one per trial in a search)."""

    def __init__(self, client: Any, run_id: str, experiment_id: str, uri: str) -> None:
        self.client, self.run_id, self.experiment_id, self.uri = client, run_id, experiment_id, uri

    def params(self, values: Mapping[str, Any], prefix: str = "") -> None:
        from mlflow.entities import Param

        flat = flat_params(values, prefix)
        if flat:
            self.client.log_batch(self.run_id, params=[Param(k, v) for k, v in flat.items()])

    def metrics(self, values: Mapping[str, float | None], step: int = 0) -> None:
        """Finite values only (a metric that does not apply is NaN in lmrec's tables and
        simply absent here)."""
        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [
            Metric(metric_key(k), float(v), now, step)
            for k, v in values.items()
            if v is not None and math.isfinite(float(v))
        ]
        if batch:
            self.client.log_batch(self.run_id, metrics=batch)

    def epochs(self, records: list[dict[str, float]]) -> None:
        """Per-epoch figures (Recommender.training_history) at steps 1, 2, ..."""
        for record in records:
            step = int(record["epoch"])
            self.metrics({k: v for k, v in record.items() if k != "epoch"}, step=step)

    def tags(self, values: Mapping[str, Any]) -> None:
        for key, value in values.items():
            self.client.set_tag(self.run_id, key, str(value))

    def figure(self, figure: Any, name: str) -> None:
        """A matplotlib figure as an image artifact."""
        self.client.log_figure(self.run_id, figure, name)

    def files(self, path: Path, under: str | None = None) -> None:
        """A file or a whole directory (a saved model, a report) as artifacts."""
        if Path(path).is_dir():
            self.client.log_artifacts(self.run_id, str(path), under)
        else:
            self.client.log_artifact(self.run_id, str(path), under)

    @contextmanager
    def child(self, name: str) -> Iterator[TrackedRun]:
        run = self.client.create_run(
            self.experiment_id, run_name=name, tags={"mlflow.parentRunId": self.run_id}
        )
        with _finishing(
            TrackedRun(self.client, run.info.run_id, self.experiment_id, self.uri)
        ) as r:
            yield r


@contextmanager
def tracked_run(
    uri: str,
    name: str,
    experiment: str = DEFAULT_EXPERIMENT,
    tags: Mapping[str, Any] | None = None,
) -> Iterator[TrackedRun]:
    """Start a run in `experiment` (created when missing); it ends FINISHED, FAILED when
    the command raises, KILLED when it is interrupted (what was logged until then stays)."""
    client = _client(uri)
    found = client.get_experiment_by_name(experiment)
    if found is not None:
        experiment_id = found.experiment_id
    else:
        experiment_id = client.create_experiment(experiment, artifact_location=_artifacts(uri))
    run = client.create_run(experiment_id, run_name=name, tags=dict(tags or {}))
    with _finishing(TrackedRun(client, run.info.run_id, experiment_id, uri)) as tracked:
        yield tracked


@contextmanager
def _finishing(run: TrackedRun) -> Iterator[TrackedRun]:
    try:
        yield run
    except KeyboardInterrupt:  # stopped by the user: MLflow's KILLED, not a failure
        run.client.set_terminated(run.run_id, "KILLED")
        raise
    except BaseException:
        run.client.set_terminated(run.run_id, "FAILED")
        raise
    run.client.set_terminated(run.run_id, "FINISHED")


def _client(uri: str) -> Any:
    try:
        from mlflow import MlflowClient
    except ImportError:
        raise UnsupportedError(
            "experiment tracking needs MLflow, in the track extra: `pip install lmrec[track]`"
        ) from None
    # MLflow reports creating and migrating its tables at INFO on stderr; a command's
    # output is lmrec's own lines
    for name in ("mlflow", "alembic"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        return MlflowClient(tracking_uri=uri)
    except Exception as exc:  # MLflow's own errors for unknown schemes, bad paths
        raise ConfigError(f"tracking URI {uri!r} cannot be used: {exc}") from None


def _artifacts(uri: str) -> str | None:
    """Artifacts of a new experiment in a local SQLite store go beside the database
    (MLflow would otherwise write ./mlruns in whatever directory the command ran in);
    a tracking server or a remote database decides for itself."""
    if not uri.startswith("sqlite:///"):
        return None
    return (Path(uri.removeprefix("sqlite:///")).parent / "mlflow-artifacts").resolve().as_uri()
