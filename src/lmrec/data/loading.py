"""`load_dataset`: one entry point for registered dataset names and local files."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from lmrec.data.cleaning import DedupePolicy, clean
from lmrec.data.dataset import Dataset
from lmrec.data.fetch import ARCHIVES, Progress, fetch
from lmrec.data.readers._table import OnBadLines, check_on_bad_lines
from lmrec.data.readers.generic import TABLE_SUFFIXES, ColumnMap, read_generic
from lmrec.data.readers.movielens import read_ml100k, read_movielens_csv, read_movielens_dat
from lmrec.data.readers.recbole import read_atomic
from lmrec.errors import DataError

# Conventional names of a generic dataset directory's files.
_GENERIC_STEMS = {"interactions", "ratings", "events", "inter"}


def load_dataset(
    name_or_path: str | Path,
    *,
    columns: ColumnMap | Mapping[str, object] | None = None,
    items: str | Path | None = None,
    users: str | Path | None = None,
    on_bad_lines: OnBadLines = "error",
    dedupe: DedupePolicy | None = "last",
    implicit_threshold: float | None = None,
    min_user_interactions: int = 0,
    min_item_interactions: int = 0,
    home: str | Path | None = None,
    progress: Progress | None = None,
) -> Dataset:
    """Load a registered dataset ("ml-100k", "ml-1m", ...; downloaded once and cached) or
    a local directory/file, detecting its format:

    - GroupLens MovieLens directories (u.data, ratings.dat or ratings.csv),
    - RecBole atomic files (NAME.inter with NAME.item / NAME.user beside it),
    - any CSV/TSV/Parquet/JSON-lines log, with `columns` saying which column is what and
      `items` / `users` naming attribute tables (a directory holding interactions.* and
      optionally items.* / users.* is found by those names).

    Then cleaning: duplicates (user, item) resolved by `dedupe`, optional conversion to
    implicit feedback at `implicit_threshold`, optional k-core. Every dropped row is
    counted by reason in `dataset.dropped`.
    """
    check_on_bad_lines(on_bad_lines)
    ds = read_any_dataset(
        name_or_path,
        columns=columns,
        items=items,
        users=users,
        on_bad_lines=on_bad_lines,
        home=home,
        progress=progress,
    )
    return clean(
        ds,
        dedupe=dedupe,
        implicit_threshold=implicit_threshold,
        min_user_interactions=min_user_interactions,
        min_item_interactions=min_item_interactions,
    )


def read_any_dataset(
    name_or_path: str | Path,
    *,
    columns: ColumnMap | Mapping[str, object] | None = None,
    items: str | Path | None = None,
    users: str | Path | None = None,
    on_bad_lines: OnBadLines = "error",
    home: str | Path | None = None,
    progress: Progress | None = None,
) -> Dataset:
    """Read without cleaning."""
    text = str(name_or_path)
    if isinstance(name_or_path, str) and text in ARCHIVES:
        return _read_path(
            fetch(text, home, progress=progress), name=text, on_bad_lines=on_bad_lines
        )
    path = Path(text).expanduser()
    if not path.exists():
        raise DataError(
            f"no such file or directory, and not a dataset name "
            f"(known: {', '.join(sorted(ARCHIVES))})",
            path=text,
        )
    extra = {"columns": columns, "items": items, "users": users}
    return _read_path(path, name=None, on_bad_lines=on_bad_lines, **extra)


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
    )


def _generic_file(directory: Path, role: str) -> Path | None:
    stems = _GENERIC_STEMS if role == "interactions" else {role}
    found = sorted(
        p for p in directory.iterdir() if p.stem in stems and p.suffix.lower() in TABLE_SUFFIXES
    )
    return found[0] if found else None
