"""`load_dataset`: one entry point for registered dataset names and local files."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from lmrec.data.cleaning import DEDUPE_POLICIES, DedupePolicy, clean
from lmrec.data.dataset import Dataset
from lmrec.data.fetch import ARCHIVES, Progress, fetch
from lmrec.data.readers._table import OnBadLines, check_on_bad_lines
from lmrec.data.readers.generic import (
    TABLE_SUFFIXES,
    ColumnMap,
    Feedback,
    check_feedback,
    read_generic,
)
from lmrec.data.readers.movielens import read_ml100k, read_movielens_csv, read_movielens_dat
from lmrec.data.readers.recbole import read_atomic
from lmrec.errors import ConfigError, DataError

# Conventional names of a generic dataset directory's files.
_GENERIC_STEMS = {"interactions", "ratings", "events", "inter"}

#: "auto": explicit ratings keep the latest rating of a (user, item), implicit feedback
#: adds its events up (three views weigh more than one)
Dedupe = DedupePolicy | Literal["auto"]


def load_dataset(
    name_or_path: str | Path,
    *,
    columns: ColumnMap | Mapping[str, object] | None = None,
    items: str | Path | None = None,
    users: str | Path | None = None,
    on_bad_lines: OnBadLines = "error",
    feedback: Feedback = "auto",
    dedupe: Dedupe | None = "auto",
    implicit_threshold: float | None = None,
    min_user_interactions: int = 0,
    min_item_interactions: int = 0,
    home: str | Path | None = None,
    progress: Progress | None = None,
    allow_empty: bool = False,
) -> Dataset:
    """Load a registered dataset ("ml-100k", "ml-1m", ...; downloaded once and cached) or
    a local directory/file, detecting its format:

    - GroupLens MovieLens directories (u.data, ratings.dat or ratings.csv),
    - RecBole atomic files (NAME.inter with NAME.item / NAME.user beside it),
    - any CSV/TSV/Parquet/JSON-lines log, with `columns` saying which column is what and
      `items` / `users` naming attribute tables (a directory holding interactions.* and
      optionally items.* / users.* is found by those names).

    `feedback` says what a log's value column holds ("explicit" ratings, "implicit"
    weights, or "auto": by the column's name, see `readers.generic.RATING_NAMES`).

    Then cleaning: duplicates (user, item) resolved by `dedupe` ("auto": the latest rating
    for explicit feedback, the sum for implicit), optional conversion to implicit feedback
    at `implicit_threshold`, optional k-core. Every row merged or dropped is counted by
    reason in `dataset.dropped` (`lmrec.data.inspect.load_summary` says it in one line).
    A result without interactions is an error unless `allow_empty`.
    """
    check_on_bad_lines(on_bad_lines)
    check_feedback(feedback)
    if dedupe is not None and dedupe != "auto" and dedupe not in DEDUPE_POLICIES:
        raise ConfigError(
            f"dedupe must be one of auto, {', '.join(DEDUPE_POLICIES)}, not {dedupe!r}"
        )
    ds = read_any_dataset(
        name_or_path,
        columns=columns,
        items=items,
        users=users,
        on_bad_lines=on_bad_lines,
        home=home,
        progress=progress,
        feedback=feedback,
    )
    if dedupe == "auto":
        dedupe = "last" if ds.explicit else "sum"
    ds = clean(
        ds,
        dedupe=dedupe,
        implicit_threshold=implicit_threshold,
        min_user_interactions=min_user_interactions,
        min_item_interactions=min_item_interactions,
    )
    if not allow_empty:
        check_not_empty(ds, str(name_or_path))
    return ds


def check_not_empty(ds: Dataset, source: str) -> None:
    """No interactions is nothing to train or describe: say why in one line."""
    if ds.n_interactions:
        return
    if not ds.dropped.rows_read and not ds.dropped.total:
        raise DataError("the log is empty: no rows of data (a header at most)", path=source)
    reasons = "; ".join(ds.dropped.lines())
    raise DataError(f"no interactions left: every row read was dropped ({reasons})", path=source)


def read_any_dataset(
    name_or_path: str | Path,
    *,
    columns: ColumnMap | Mapping[str, object] | None = None,
    items: str | Path | None = None,
    users: str | Path | None = None,
    on_bad_lines: OnBadLines = "error",
    home: str | Path | None = None,
    progress: Progress | None = None,
    feedback: Feedback = "auto",
) -> Dataset:
    """Read without cleaning."""
    text = str(name_or_path)
    if isinstance(name_or_path, str) and text in ARCHIVES:
        ds = _read_path(fetch(text, home, progress=progress), name=text, on_bad_lines=on_bad_lines)
        return _with_feedback(ds, feedback)
    path = Path(text).expanduser()
    if not path.exists():
        raise DataError(
            f"no such file or directory, and not a dataset name "
            f"(known: {', '.join(sorted(ARCHIVES))})",
            path=text,
        )
    extra: dict[str, Any] = {
        "columns": columns, "items": items, "users": users, "feedback": feedback
    }  # fmt: skip
    return _with_feedback(_read_path(path, name=None, on_bad_lines=on_bad_lines, **extra), feedback)


def _with_feedback(ds: Dataset, feedback: Feedback) -> Dataset:
    """Formats that fix the feedback kind (MovieLens ratings) follow an explicit choice."""
    if feedback == "auto" or ds.explicit == (feedback == "explicit"):
        return ds
    return replace(ds, explicit=feedback == "explicit")


def detect_format(path: Path) -> str:
    """'ml-100k' | 'movielens-dat' | 'movielens-csv' | 'recbole' | 'generic'."""
    if path.is_dir():
        if (path / "u.data").exists():
            return "ml-100k"
        if (path / "ratings.dat").exists():
            return "movielens-dat"
        if (path / "ratings.csv").exists() and (path / "movies.csv").exists():
            return "movielens-csv"
        if any(path.glob("*.inter")):
            return "recbole"
        if _generic_file(path, "interactions") is not None:
            return "generic"
        raise DataError(
            "cannot tell the format of this directory: expected MovieLens files (u.data, "
            "ratings.dat, ratings.csv + movies.csv), a RecBole NAME.inter, or "
            "interactions.csv/.parquet/.jsonl; or point at a file and pass columns=",
            path=str(path),
        )
    suffix = path.suffix.lower()
    if suffix == ".inter":
        return "recbole"
    if path.name == "u.data":
        return "ml-100k"
    if path.name == "ratings.dat":
        return "movielens-dat"
    if suffix in TABLE_SUFFIXES:
        return "generic"
    raise DataError(
        f"unsupported file type '{suffix}'; use a directory, a .inter file, or one of "
        f"{', '.join(sorted(TABLE_SUFFIXES))}",
        path=str(path),
    )


def _read_path(
    path: Path,
    *,
    name: str | None,
    on_bad_lines: OnBadLines,
    columns: ColumnMap | Mapping[str, object] | None = None,
    items: str | Path | None = None,
    users: str | Path | None = None,
    feedback: Feedback = "auto",
) -> Dataset:
    fmt = detect_format(path)
    directory = path if path.is_dir() else path.parent
    if fmt == "ml-100k":
        return read_ml100k(directory, on_bad_lines=on_bad_lines, name=name or directory.name)
    if fmt == "movielens-dat":
        return read_movielens_dat(directory, on_bad_lines=on_bad_lines, name=name)
    if fmt == "movielens-csv":
        return read_movielens_csv(directory, on_bad_lines=on_bad_lines, name=name)
    if fmt == "recbole":
        cmap = ColumnMap.of(columns)
        return read_atomic(
            path,
            on_bad_lines=on_bad_lines,
            name=name,
            user_field=cmap.user or "user_id",
            item_field=cmap.item or "item_id",
            value_field=cmap.value,
            time_field=cmap.timestamp,
        )
    log = path
    if path.is_dir():
        log = _generic_file(path, "interactions")  # type: ignore[assignment]
        items = items or _generic_file(path, "items")
        users = users or _generic_file(path, "users")
    return read_generic(
        log,
        columns=columns,
        items_path=Path(items) if items else None,
        users_path=Path(users) if users else None,
        on_bad_lines=on_bad_lines,
        name=name or (path.name if path.is_dir() else path.stem),
        feedback=feedback,
    )


def _generic_file(directory: Path, role: str) -> Path | None:
    stems = _GENERIC_STEMS if role == "interactions" else {role}
    found = sorted(
        p for p in directory.iterdir() if p.stem in stems and p.suffix.lower() in TABLE_SUFFIXES
    )
    return found[0] if found else None
