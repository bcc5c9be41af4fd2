"""Checks a candidate version must pass before it replaces the live one.

A retrain on the wrong data (a handful of stored events instead of the whole log) gives a
model that knows a few items and scores everything near zero; promoting it silently
replaces a good model. Before promotion the candidate is compared with the live version:

  loads      the candidate loads
  catalogue  it knows at least MIN_COVERAGE of the items the live version knows
  users      and at least MIN_COVERAGE of its users
  scores     its top scores are finite and not vanishing for most of its users
  holdout    on interactions neither model was trained on (the held-out test parts that
             `lmrec train` keeps beside a model, HOLDOUT_FILE), its NDCG@10 is at least
             MIN_METRIC_RATIO of the live version's; with too few such interactions the
             metric is not compared, and the report says so

A refused promotion can still be forced (`--force`, `force=true`); the report says what
was forced past.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lmrec.data.dataset import Dataset
from lmrec.errors import ConflictError, LmrecError
from lmrec.evaluation.metrics import ranking_metrics
from lmrec.models.artifacts import load_model
from lmrec.models.base import Recommender
from lmrec.store.registry import ModelRegistry

#: the held-out test part of the split a model was trained with (user_id, item_id)
HOLDOUT_FILE = "holdout.parquet"
#: shares of the live version's items and users a candidate must know; a retrain on a
#: fresh log loses a few of each (items and users without recent activity), not most
MIN_COVERAGE = 0.9
#: the candidate's holdout NDCG@10 must reach this share of the live version's: wide
#: enough for noise between honest retrains, tight enough to stop a broken one
MIN_METRIC_RATIO = 0.5
#: users with held-out interactions needed before the metric is compared
MIN_HOLDOUT_USERS = 20
#: top scores at or below this size count as vanishing (the degenerate fits seen so far
#: score around 1e-24; no working model scores all of its users this low)
TINY_SCORE = 1e-12
K = 10
SAMPLE_USERS = 500


class VersionDoesNotLoad(ConflictError):
    """The candidate's files do not load: no flag can promote it (409, CLI exit 2)."""

    def __init__(self, report: PromotionReport) -> None:
        self.report = report
        reason = report.failed[0].detail if report.failed else "unknown reason"
        super().__init__(
            f"refused to promote {report.name}: {reason}; it cannot be made live, even with "
            "--force (HTTP: force=true): re-register a model directory that loads"
        )


class PromotionRefused(LmrecError):
    """A candidate failed a check against the live version (promote with force)."""

    status_code = 409

    def __init__(self, report: PromotionReport) -> None:
        self.report = report
        failed = "; ".join(f"{c.name}: {c.detail}" for c in report.failed)
        super().__init__(
            f"refused to promote {report.name} version {report.version} over live version "
            f"{report.live_version}: {failed}; promote anyway with --force (HTTP: force=true)"
        )


@dataclass
class Check:
    name: str
    passed: bool
    detail: str

    def __post_init__(self) -> None:
        self.passed = bool(self.passed)  # NumPy comparisons give np.bool_ (not JSON)

    def to_dict(self) -> dict[str, Any]:
        return {"check": self.name, "passed": self.passed, "detail": self.detail}


@dataclass
class PromotionReport:
    name: str
    version: str
    live_version: str | None
    checks: list[Check] = field(default_factory=list)

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if not c.passed]

    @property
    def passed(self) -> bool:
        return not self.failed

    @property
    def loads(self) -> bool:
        """Whether the candidate loaded and scored (a failure here cannot be forced)."""
        return all(c.passed for c in self.checks if c.name == "loads")

    def require_loads(self) -> None:
        if not self.loads:
            raise VersionDoesNotLoad(self)

    def lines(self) -> list[str]:
        return [f"{'ok  ' if c.passed else 'FAIL'} {c.name}: {c.detail}" for c in self.checks]


def check_candidate(registry: ModelRegistry, name: str, version: str | int) -> PromotionReport:
    """Compare `version` of `name` with the live version (see the module's doc)."""
    version = str(version)
    path = registry.version_path(name, version)  # an unknown version is a 404 here
    live_version = registry.live_version(name)
    report = PromotionReport(name, version, live_version)
    try:
        candidate = load_model(path)
        scores = _scores_check(candidate)
    except Exception as exc:  # whatever breaks reading or scoring it, it cannot serve
        reason = str(exc) if isinstance(exc, LmrecError) else f"{type(exc).__name__}: {exc}"
        report.checks.append(Check("loads", False, f"version {version} does not load ({reason})"))
        return report
    report.checks.append(Check("loads", True, f"{candidate.name}, {candidate.n_items:,} items"))
    report.checks.append(scores)
    if live_version is None or live_version == version:
        why = "no live version" if live_version is None else "it is the live version"
        report.checks.append(Check("compared", True, f"{why}: nothing to compare with"))
        return report
    live_path = registry.version_path(name, live_version)
    try:
        live = load_model(live_path)
    except Exception as exc:  # a broken live version is no reason to keep a good candidate out
        detail = f"the live version {live_version} does not load ({exc}): not compared"
        report.checks.append(Check("compared", True, detail))
        return report
    report.checks.append(_coverage_check("catalogue", "items", candidate, live))
    report.checks.append(_coverage_check("users", "users", candidate, live))
    report.checks.append(_holdout_check(candidate, live, [path, live_path]))
    return report


def write_holdout(model_dir: Path, test: Dataset) -> None:
    """Keep the held-out part of a training split beside the model (for `holdout`)."""
    if not len(test):
        return
    frame = test.to_frame()[["user_id", "item_id"]].astype(str)
    frame.to_parquet(Path(model_dir) / HOLDOUT_FILE, index=False)


def _coverage_check(name: str, what: str, candidate: Recommender, live: Recommender) -> Check:
    mine = candidate.item_map if what == "items" else candidate.user_map
    theirs = live.item_map if what == "items" else live.user_map
    assert mine is not None and theirs is not None
    known = int((mine.lookup(theirs.ids, missing="mark") >= 0).sum())
    share = known / max(len(theirs), 1)
    detail = (
        f"the candidate knows {known:,} of the live version's {len(theirs):,} {what} "
        f"({share:.1%}; needs {MIN_COVERAGE:.0%})"
    )
    return Check(name, share >= MIN_COVERAGE, detail)


def _scores_check(model: Recommender) -> Check:
    assert model.user_map is not None
    users = model.user_map.ids[:: max(1, len(model.user_map) // SAMPLE_USERS)][:SAMPLE_USERS]
    frame = model.recommend_many(users, k=1, exclude_seen=False)
    top = frame["score"].to_numpy()
    usable = np.isfinite(top) & (np.abs(top) > TINY_SCORE)
    share = usable.sum() / max(len(users), 1)
    largest = float(np.nanmax(np.abs(top))) if len(top) else 0.0
    detail = (
        f"{share:.0%} of {len(users):,} sampled users get a usable top score "
        f"(largest |score| {largest:.3g}; needs half above {TINY_SCORE:g})"
    )
    return Check("scores", share >= 0.5, detail)


def _holdout_check(candidate: Recommender, live: Recommender, dirs: list[Path]) -> Check:
    pairs = _held_out_pairs(dirs, [candidate, live])
    n_users = pairs["user_id"].nunique()
    if n_users < MIN_HOLDOUT_USERS:
        return Check(
            "holdout",
            True,
            f"not compared: {n_users} users have held-out interactions neither model was "
            f"trained on (needs {MIN_HOLDOUT_USERS}); train with a split protocol "
            "(not --protocol none) to let promotion test the candidate",
        )
    mine = _ndcg(candidate, pairs)
    theirs = _ndcg(live, pairs)
    ok = mine >= MIN_METRIC_RATIO * theirs
    detail = (
        f"NDCG@{K} {mine:.4f} against the live version's {theirs:.4f} on {len(pairs):,} "
        f"held-out interactions of {n_users:,} users (needs {MIN_METRIC_RATIO:.0%} of it)"
    )
    return Check("holdout", bool(ok), detail)


def _held_out_pairs(dirs: list[Path], models: list[Recommender]) -> pd.DataFrame:
    """Held-out (user, item) pairs of both versions that neither was trained on, for users
    both know."""
    frames = [pd.read_parquet(d / HOLDOUT_FILE) for d in dirs if (d / HOLDOUT_FILE).exists()]
    if not frames:
        return pd.DataFrame({"user_id": [], "item_id": []})
    pairs = pd.concat(frames, ignore_index=True).astype(str).drop_duplicates()
    keep = np.ones(len(pairs), dtype=bool)
    for model in models:
        assert model.user_map is not None and model.item_map is not None
        assert model.history_ is not None
        users = model.user_map.lookup(pairs["user_id"], missing="mark")
        keep &= users >= 0
        items = model.item_map.lookup(pairs["item_id"], missing="mark")
        both = (users >= 0) & (items >= 0) & (items < model.history_.shape[1])
        seen = np.zeros(len(pairs), dtype=bool)
        if both.any():
            values = model.history_[users[both], items[both]]
            seen[both] = np.asarray(values).ravel() != 0
        keep &= ~seen
    return pairs[keep].reset_index(drop=True)


def _ndcg(model: Recommender, pairs: pd.DataFrame) -> float:
    relevant = pairs.groupby("user_id")["item_id"].agg(set)
    lists = model.recommend_many(relevant.index.tolist(), k=K, unknown="skip")
    ranked = lists.groupby("user_id")["item_id"].agg(list).reindex(relevant.index)
    hits = np.zeros((len(relevant), K), dtype=bool)
    for row, (items, wanted) in enumerate(zip(ranked, relevant, strict=True)):
        if isinstance(items, list):
            hits[row, : len(items)] = [i in wanted for i in items]
    n_relevant = relevant.map(len).to_numpy()
    return float(ranking_metrics(hits, n_relevant, [K], ["ndcg"])[f"ndcg@{K}"].mean())
