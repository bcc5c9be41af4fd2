"""RecBole atomic files: NAME.inter, NAME.item, NAME.user, tab separated, with a header of
`field:type` (token, token_seq, float, float_seq).

MovieLens exported by RecBole names its catalogue columns movie_title, release_year and
class/genre (space separated); they are also exposed as title, year and genres ('|'
joined) so that models see the same columns as with GroupLens' files.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lmrec.data.dataset import Dataset, DropReport
from lmrec.data.readers._common import build_dataset
from lmrec.data.readers._table import Kind, OnBadLines, TableFormat, column_names, read_table
from lmrec.errors import DataError

_FMT = TableFormat(sep="\t", header=True, quoted=False)
ATOMIC_TYPES = ("token", "token_seq", "float", "float_seq")


def find_inter_file(directory: Path) -> Path:
    """The single NAME.inter of a directory (NAME preferably the directory's name)."""
    preferred = directory / f"{directory.name}.inter"
    if preferred.exists():
        return preferred
    found = sorted(directory.glob("*.inter"))
    if len(found) != 1:
        raise DataError(
            f"expected one .inter file, found {len(found)}; point at the .inter file itself",
            path=str(directory),
        )
    return found[0]


def read_atomic(
    path: Path,
    *,
    on_bad_lines: OnBadLines = "error",
    name: str | None = None,
    user_field: str = "user_id",
    item_field: str = "item_id",
    value_field: str | None = None,
    time_field: str | None = None,
) -> Dataset:
    """Read NAME.inter (path to it or to its directory) and NAME.item / NAME.user beside it."""
    inter = find_inter_file(path) if path.is_dir() else path
    stem = inter.with_suffix("")
    report = DropReport()
    fields = _fields(inter)
    value_field = value_field or _first_present(fields, ("rating", "label", "value", "score"))
    time_field = time_field or _first_present(fields, ("timestamp", "time"))
    wanted = {user_field: "user_id", item_field: "item_id"}
    if value_field:
        wanted[value_field] = "value"
    if time_field:
        wanted[time_field] = "timestamp"
    explicit = bool(value_field) and value_field != "label"
    kinds: dict[str, Kind] = {f"{user_field}:{fields.get(user_field, 'token')}": "id"}
    kinds[f"{item_field}:{fields.get(item_field, 'token')}"] = "id"
    if value_field:
        kinds[f"{value_field}:{fields[value_field]}"] = "rating" if explicit else "float"
    if time_field:
        kinds[f"{time_field}:{fields[time_field]}"] = "timestamp"
    raw = read_table(
        inter, _FMT, kinds, on_bad_lines=on_bad_lines, report=report, usecols=list(kinds)
    )
    report.rows_read = len(raw) + report.total
    df = raw.rename(columns={c: wanted[c.split(":")[0]] for c in raw.columns})
    items = _side_table(stem.with_suffix(".item"), item_field, "item_id", on_bad_lines, report)
    if items is not None:
        items = _movielens_aliases(items)
    users = _side_table(stem.with_suffix(".user"), user_field, "user_id", on_bad_lines, report)
    if users is not None and "age" in users:  # a token in RecBole, a number in GroupLens' files
        users["age"] = pd.to_numeric(users["age"], errors="coerce").astype("Int64")
    return build_dataset(
        df, items=items, users=users, name=name or stem.name, report=report, explicit=explicit
    )


def _fields(path: Path) -> dict[str, str]:
    """Header `name:type` pairs, checked."""
    out: dict[str, str] = {}
    for col in column_names(path, _FMT):
        field, _, kind = col.partition(":")
        if kind not in ATOMIC_TYPES:
            raise DataError(
                f"header column '{col}' is not NAME:TYPE with TYPE one of "
                f"{', '.join(ATOMIC_TYPES)}",
                path=str(path),
                line=1,
            )
        out[field] = kind
    return out


def _first_present(fields: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((n for n in names if n in fields and fields[n] == "float"), None)


def _side_table(
    path: Path, key_field: str, key: str, on_bad_lines: OnBadLines, report: DropReport
) -> pd.DataFrame | None:
    if not path.exists():
        return None
    fields = _fields(path)
    if key_field not in fields:
        raise DataError(f"no '{key_field}' column to join on", path=str(path), line=1)
    kinds: dict[str, Kind] = {
        f"{f}:{t}": ("float" if t == "float" else "id" if f == key_field else "str")
        for f, t in fields.items()
    }
    table = read_table(path, _FMT, kinds, on_bad_lines=on_bad_lines, report=report)
    return table.rename(columns={c: c.split(":")[0] for c in table.columns}).rename(
        columns={key_field: key}
    )


def _movielens_aliases(items: pd.DataFrame) -> pd.DataFrame:
    items = items.copy()
    if "movie_title" in items and "title" not in items:
        items["title"] = items["movie_title"]
    if "release_year" in items and "year" not in items:
        items["year"] = pd.to_numeric(items["release_year"], errors="coerce").astype("Int64")
    genre_col = next((c for c in ("class", "genre") if c in items), None)
    if genre_col and "genres" not in items:
        items["genres"] = items[genre_col].fillna("").astype("str").str.split().str.join("|")
    return items
