"""Any interaction log as CSV, TSV, Parquet or JSON lines, with a mapping that says which
column holds the user, item, value and time; item and user attribute tables come as
separate files in any of the same formats."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq

from lmrec.data.dataset import Dataset, DropReport
from lmrec.data.readers._common import build_dataset
from lmrec.data.readers._table import (
    Kind,
    OnBadLines,
    TableFormat,
    column_names,
    read_table,
    validate_columns,
)
from lmrec.errors import ConfigError, DataError

TEXT_SUFFIXES = {".csv", ".tsv", ".tab", ".txt", ".dat"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
JSON_SUFFIXES = {".jsonl", ".ndjson", ".json"}
TABLE_SUFFIXES = TEXT_SUFFIXES | PARQUET_SUFFIXES | JSON_SUFFIXES

# Column names recognised when the mapping does not name a column (case-insensitive).
_CANDIDATES = {
    "user": ("user_id", "userid", "user", "uid", "customer_id", "visitor_id", "visitorid"),
    "item": ("item_id", "itemid", "movieid", "movie_id", "item", "iid", "product_id", "sku"),
    "value": ("rating", "value", "score", "weight", "count", "label"),
    "timestamp": ("timestamp", "time", "ts", "datetime", "date", "event_time", "created_at"),
}


@dataclass(frozen=True)
class ColumnMap:
    """Which column holds what. Unnamed roles are found by common names (user_id, userId,
    rating, timestamp, ...); `value` and `timestamp` are optional."""

    user: str | None = None
    item: str | None = None
    value: str | None = None
    timestamp: str | None = None
    item_key: str | None = None  # id column of the items file (default: same as `item`)
    user_key: str | None = None
    item_fields: tuple[str, ...] | None = None  # item columns to keep (default: all)
    user_fields: tuple[str, ...] | None = None
    names: tuple[str, ...] | None = None  # column names for a text file without a header
    sep: str | None = None  # delimiter of text files (default: by suffix, or sniffed)

    @classmethod
    def of(cls, spec: ColumnMap | Mapping[str, object] | None) -> ColumnMap:
        if spec is None or isinstance(spec, ColumnMap):
            return spec or cls()
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(spec) - known)
        if unknown:
            raise ConfigError(f"unknown column mapping key(s) {unknown}; use {sorted(known)}")
        args = {k: tuple(v) if isinstance(v, list) else v for k, v in spec.items()}
        return cls(**args)  # type: ignore[arg-type]


def read_generic(
    path: Path,
    *,
    columns: ColumnMap | Mapping[str, object] | None = None,
    items_path: Path | None = None,
    users_path: Path | None = None,
    on_bad_lines: OnBadLines = "error",
    name: str | None = None,
) -> Dataset:
    cmap = ColumnMap.of(columns)
    report = DropReport()
    present = table_columns(path, cmap)
    user = _pick(path, present, cmap.user, "user", required=True)
    item = _pick(path, present, cmap.item, "item", required=True)
    value = _pick(path, present, cmap.value, "value", required=False)
    timestamp = _pick(path, present, cmap.timestamp, "timestamp", required=False)
    kinds: dict[str, Kind] = {user: "id", item: "id"}  # type: ignore[dict-item]
    if value:
        kinds[value] = "float"
    if timestamp:
        kinds[timestamp] = "timestamp"
    raw = read_any(path, kinds, cmap, on_bad_lines=on_bad_lines, report=report, usecols=kinds)
    roles = {user: "user_id", item: "item_id", value: "value", timestamp: "timestamp"}
    df = raw.rename(columns={c: roles[c] for c in raw.columns})
    items = users = None
    if items_path is not None:
        key = cmap.item_key or item
        items = _side_table(
            items_path, key, "item_id", cmap.item_fields, cmap, on_bad_lines, report
        )
    if users_path is not None:
        key = cmap.user_key or user
        users = _side_table(
            users_path, key, "user_id", cmap.user_fields, cmap, on_bad_lines, report
        )
    return build_dataset(
        df,
        items=items,
        users=users,
        name=name or path.stem,
        report=report,
        explicit=None if value else False,
    )


def table_columns(path: Path, cmap: ColumnMap | None = None) -> list[str]:
    """Column names of a table file of any supported format."""
    suffix = path.suffix.lower()
    if suffix in PARQUET_SUFFIXES:
        return list(pq.read_schema(path).names)
    if suffix in JSON_SUFFIXES:
        # Columns only: bad lines are reported (or raised) by the real read.
        return list(_read_json(path, "skip", DropReport()).columns)
    return column_names(path, _text_format(path, cmap or ColumnMap()))


def read_any(
    path: Path,
    kinds: Mapping[str, Kind],
    cmap: ColumnMap,
    *,
    on_bad_lines: OnBadLines,
    report: DropReport,
    usecols: Mapping[str, Kind] | list[str] | None = None,
) -> pd.DataFrame:
    suffix = path.suffix.lower()
    cols = list(usecols) if usecols is not None else None
    if suffix in PARQUET_SUFFIXES:
        frame = pq.read_table(path, columns=cols).to_pandas()
        line_of = _no_lines
    elif suffix in JSON_SUFFIXES:
        frame = _read_json(path, on_bad_lines, report)
        frame = frame[cols] if cols else frame
        line_of = _no_lines if _is_json_array(path) else _json_line_finder(path)
    else:
        return read_table(
            path,
            _text_format(path, cmap),
            kinds,
            on_bad_lines=on_bad_lines,
            report=report,
            usecols=cols,
        )
    # Typed formats: values are already numbers where the writer made them numbers; the
    # same vectorised validation finds those that are not.
    return validate_columns(
        path, frame, kinds, on_bad_lines=on_bad_lines, report=report, line_of=line_of
    )


def _no_lines(row: int) -> int | None:
    return None


def _text_format(path: Path, cmap: ColumnMap) -> TableFormat:
    if path.suffix.lower() not in TEXT_SUFFIXES:
        raise DataError(
            f"unsupported file type '{path.suffix}'; use one of "
            f"{', '.join(sorted(TABLE_SUFFIXES))}",
            path=str(path),
        )
    sep = cmap.sep or _sniff_sep(path)
    header = cmap.names is None
    return TableFormat(sep=sep, header=header, names=cmap.names, quoted=sep == ",")


def _sniff_sep(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in (".tsv", ".tab"):
        return "\t"
    with open(path, encoding="utf-8", errors="replace") as fh:
        first = fh.readline()
    for sep in ("\t", "::", ",", ";", "|"):
        if sep in first:
            return sep
    return "," if suffix == ".csv" else "\t"


def _pick(
    path: Path, present: list[str], given: str | None, role: str, *, required: bool
) -> str | None:
    if given is not None:
        if given not in present:
            raise DataError(
                f"no column '{given}' for the {role} (columns are: {', '.join(present)})",
                path=str(path),
            )
        return given
    lowered = {c.lower(): c for c in present}
    found = next((lowered[c] for c in _CANDIDATES[role] if c in lowered), None)
    if found is None and required:
        raise DataError(
            f"cannot tell which column holds the {role} (columns are: {', '.join(present)}); "
            f"pass columns={{'{role}': NAME}}",
            path=str(path),
        )
    return found


def _side_table(
    path: Path,
    key: str,
    new_key: str,
    keep: tuple[str, ...] | None,
    cmap: ColumnMap,
    on_bad_lines: OnBadLines,
    report: DropReport,
) -> pd.DataFrame:
    # Side tables always have a header; only the delimiter is shared with the log.
    side = ColumnMap(sep=cmap.sep if path.suffix.lower() not in (".csv",) else None)
    present = table_columns(path, side)
    if key not in present:
        raise DataError(
            f"no id column '{key}' (columns are: {', '.join(present)}); pass "
            f"columns={{'{'item_key' if new_key == 'item_id' else 'user_key'}': NAME}}",
            path=str(path),
        )
    cols = [key, *(c for c in (keep or present) if c != key)]
    table = read_any(
        path, {key: "id"}, side, on_bad_lines=on_bad_lines, report=report, usecols=cols
    )
    return table.rename(columns={key: new_key})


# ---- JSON lines ---------------------------------------------------------------------------
def _is_json_array(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(64).lstrip().startswith(b"[")


def _read_json(path: Path, on_bad_lines: OnBadLines, report: DropReport) -> pd.DataFrame:
    if _is_json_array(path):  # a JSON array of records rather than JSON lines
        try:
            return pd.DataFrame(json.loads(path.read_text(encoding="utf-8")))
        except ValueError as exc:
            raise DataError(f"not valid JSON: {exc}", path=str(path)) from None
    try:
        return pajson.read_json(path).to_pandas()
    except pa.ArrowInvalid:
        return _read_json_lines_slowly(path, on_bad_lines, report)


def _read_json_lines_slowly(
    path: Path, on_bad_lines: OnBadLines, report: DropReport
) -> pd.DataFrame:
    """Only reached when pyarrow refuses the file: find (or skip) the lines that are not
    JSON objects, one by one."""
    records = []
    bad = 0
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
                if not isinstance(obj, dict):
                    raise ValueError("not an object")
            except ValueError as exc:
                if on_bad_lines == "error":
                    raise DataError(
                        f"not a JSON object ({exc}); fix the line or pass on_bad_lines='skip'",
                        path=str(path),
                        line=number,
                    ) from None
                bad += 1
                continue
            records.append(obj)
    report.add(f"{path.name}: not a JSON object", bad)
    return pd.DataFrame.from_records(records)


def _json_line_finder(path: Path) -> Callable[[int], int | None]:
    def line_of(row: int) -> int | None:
        seen = -1
        with open(path, encoding="utf-8", errors="replace") as fh:
            for number, line in enumerate(fh, start=1):
                if line.strip():
                    seen += 1
                    if seen == row:
                        return number
        return None

    return line_of
