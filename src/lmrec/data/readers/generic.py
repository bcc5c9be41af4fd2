"""Any interaction log as CSV, TSV, Parquet or JSON lines, with a mapping that says which
column holds the user, item, value and time; item and user attribute tables come as
separate files in any of the same formats."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Literal

import pandas as pd
import pyarrow as pa
import pyarrow.json as pajson
import pyarrow.parquet as pq

from lmrec.data.dataset import Dataset, DropReport
from lmrec.data.readers._common import build_dataset
from lmrec.data.readers._table import (
    SKIP,
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

Feedback = Literal["auto", "implicit", "explicit"]
FEEDBACK_KINDS = ("auto", "implicit", "explicit")

# Column names recognised when the mapping does not name a column (case-insensitive).
_CANDIDATES = {
    "user": (
        "user_id", "userid", "user", "uid", "customer_id", "customerid", "customer",
        "visitor_id", "visitorid",
    ),
    "item": (
        "item_id", "itemid", "movieid", "movie_id", "item", "iid", "product_id", "productid",
        "product", "sku",
    ),
    "value": ("rating", "value", "score", "weight", "count", "label"),
    "timestamp": (
        "timestamp", "time", "ts", "datetime", "date", "event_time", "created_at", "when",
    ),
}  # fmt: skip
#: with feedback "auto", a value column of one of these names holds explicit ratings (unless
#: every value is 1: presence only); any other (weight, count, plays) holds implicit weights
RATING_NAMES = ("rating", "ratings", "stars", "score", "value")
_ROLE_KEYS = {"user": "user", "item": "item", "value": "value", "timestamp": "time"}


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
    feedback: Feedback = "auto",
) -> Dataset:
    """`feedback` says what the value column holds: "explicit" ratings (finite, zero or
    more; RMSE applies), "implicit" weights (any finite number, e.g. 3 for a purchase and
    1 for a view), or "auto": ratings when the column is named like one (RATING_NAMES)."""
    check_feedback(feedback)
    cmap = ColumnMap.of(columns)
    report = DropReport()
    present = table_columns(path, cmap)
    user = _pick(path, present, cmap.user, "user", required=True)
    item = _pick(path, present, cmap.item, "item", required=True)
    value = _pick(path, present, cmap.value, "value", required=False)
    timestamp = _pick(path, present, cmap.timestamp, "timestamp", required=False)
    explicit = _explicit(path, value, feedback)
    kinds: dict[str, Kind] = {user: "id", item: "id"}  # type: ignore[dict-item]
    if value:
        kinds[value] = "float" if explicit is False else "rating"
    if timestamp:
        kinds[timestamp] = "timestamp"
    raw = read_any(path, kinds, cmap, on_bad_lines=on_bad_lines, report=report, usecols=kinds)
    report.rows_read = len(raw) + report.total  # the log's rows, before any was dropped
    _note_columns(report, user, item, value, timestamp, explicit)  # type: ignore[arg-type]
    roles = {user: "user_id", item: "item_id", value: "value", timestamp: "timestamp"}
    df = raw.rename(columns={c: roles[c] for c in raw.columns})
    items = users = None
    if items_path is not None:
        keys = _present(cmap.item_key, item, "item_id", *_CANDIDATES["item"])
        items = _side_table(
            items_path, keys, "item_id", cmap.item_fields, cmap, on_bad_lines, report
        )
    if users_path is not None:
        keys = _present(cmap.user_key, user, "user_id", *_CANDIDATES["user"])
        users = _side_table(
            users_path, keys, "user_id", cmap.user_fields, cmap, on_bad_lines, report
        )
    return build_dataset(
        df,
        items=items,
        users=users,
        name=name or path.stem,
        report=report,
        explicit=explicit,
    )


def check_feedback(feedback: str) -> None:
    if feedback not in FEEDBACK_KINDS:
        raise ConfigError(f"feedback must be one of {', '.join(FEEDBACK_KINDS)}, not {feedback!r}")


def _explicit(path: Path, value: str | None, feedback: Feedback) -> bool | None:
    """True/False, or None: decided by the values (a rating-named column of only ones is
    presence, not ratings)."""
    if feedback == "explicit":
        if value is None:
            raise DataError(
                "explicit feedback needs a column of ratings; map it (--columns "
                "value=NAME on the command line, columns={'value': NAME} in Python)",
                path=str(path),
            )
        return True
    if feedback == "implicit" or value is None:
        return False
    return None if value.lower() in RATING_NAMES else False


def _note_columns(
    report: DropReport,
    user: str,
    item: str,
    value: str | None,
    timestamp: str | None,
    explicit: bool | None,
) -> None:
    used = [f"user={user}", f"item={item}"]
    if value:
        used.append(
            f"value={value} (weights; --feedback explicit if they are ratings)"
            if explicit is False and value.lower() not in RATING_NAMES
            else f"value={value}"
        )
    used.append(f"time={timestamp}" if timestamp else "no time column")
    report.note("columns " + ", ".join(used))


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
    multiline: bool = False,
) -> pd.DataFrame:
    """A table file of any supported format; `multiline`: quoted text values may hold
    line breaks (a catalogue's descriptions; never in a log, where it means a stray quote)."""
    suffix = path.suffix.lower()
    cols = list(usecols) if usecols is not None else None
    line_of: Callable[[Sequence[int]], list[int | None]]
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
            _text_format(path, cmap, multiline=multiline),
            kinds,
            on_bad_lines=on_bad_lines,
            report=report,
            usecols=cols,
        )
    # Typed formats: values are already numbers where the writer made them numbers; the
    # same vectorised validation finds those that are not.
    return validate_columns(
        path, frame, kinds, on_bad_lines=on_bad_lines, report=report, lines_of=line_of
    )


def _present(key: str | None, *candidates: str | None) -> tuple[str, ...]:
    """The id column to look for in a side table: the one named, else the candidates."""
    names = (key,) if key else candidates
    return tuple(n for n in names if n is not None)


def _no_lines(rows: Sequence[int]) -> list[int | None]:
    return [None] * len(rows)


def _text_format(path: Path, cmap: ColumnMap, *, multiline: bool = False) -> TableFormat:
    if path.suffix.lower() not in TEXT_SUFFIXES:
        raise DataError(
            f"unsupported file type '{path.suffix}'; use one of "
            f"{', '.join(sorted(TABLE_SUFFIXES))}",
            path=str(path),
        )
    sep = cmap.sep or _sniff_sep(path)
    header = cmap.names is None
    return TableFormat(
        sep=sep, header=header, names=cmap.names, quoted=sep == ",", multiline=multiline
    )


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
            f"map it: --columns {_ROLE_KEYS[role]}=NAME on the command line, "
            f"columns={{'{role}': NAME}} in Python",
            path=str(path),
        )
    return found


def _side_table(
    path: Path,
    keys: Sequence[str],
    new_key: str,
    keep: tuple[str, ...] | None,
    cmap: ColumnMap,
    on_bad_lines: OnBadLines,
    report: DropReport,
) -> pd.DataFrame:
    """An item or user table keyed by the first of `keys` it has (the mapping's key, or
    the log's own column name, else item_id / user_id or a usual name)."""
    # Side tables always have a header; only the delimiter is shared with the log.
    side = ColumnMap(sep=cmap.sep if path.suffix.lower() not in (".csv",) else None)
    present = table_columns(path, side)
    key = next((k for k in keys if k in present), None)
    if key is None:
        lowered = {c.lower(): c for c in present}
        key = next((lowered[k.lower()] for k in keys[1:] if k.lower() in lowered), None)
    if key is None:
        role = "item" if new_key == "item_id" else "user"
        raise DataError(
            f"no id column '{keys[0]}' (columns are: {', '.join(present)}); name it with "
            f"--columns {role}_key=NAME (columns={{'{role}_key': NAME}} in Python)",
            path=str(path),
        )
    cols = [key, *(c for c in (keep or present) if c != key)]
    table = read_any(
        path,
        {key: "id"},
        side,
        on_bad_lines=on_bad_lines,
        report=report,
        usecols=cols,
        multiline=True,  # descriptions may hold line breaks
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
        except UnicodeDecodeError as exc:
            raise DataError(
                f"byte {exc.start:,} (0x{exc.object[exc.start]:02x}) is not UTF-8 text; save the "
                "file as UTF-8",
                path=str(path),
            ) from None
        except ValueError as exc:
            raise DataError(f"not valid JSON: {exc}", path=str(path)) from None
    try:
        table = pajson.read_json(path)
        table.validate(full=True)  # pyarrow's JSON reader lets invalid UTF-8 through
        return table.to_pandas()
    except pa.ArrowInvalid:
        return _read_json_lines_slowly(path, on_bad_lines, report)


def _read_json_lines_slowly(
    path: Path, on_bad_lines: OnBadLines, report: DropReport
) -> pd.DataFrame:
    """Only reached when pyarrow refuses the file: find (or skip) the lines that are not
    JSON objects in UTF-8, one by one."""
    records = []
    bad: dict[str, list[int]] = {"not a JSON object": [], "not UTF-8 text": []}
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                problem, why = "not UTF-8 text", f"byte 0x{raw[exc.start]:02x} is not UTF-8 text"
            else:
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                    if not isinstance(obj, dict):
                        raise ValueError("not an object")
                    records.append(obj)
                    continue
                except ValueError as exc:
                    problem, why = "not a JSON object", f"not a JSON object ({exc})"
            if on_bad_lines == "error":
                raise DataError(f"{why}; fix the line or {SKIP}", path=str(path), line=number)
            bad[problem].append(number)
    for problem, lines in bad.items():
        report.add(f"{path.name}: {problem}", len(lines), lines=lines[:5])
    return pd.DataFrame.from_records(records)


def _json_line_finder(path: Path) -> Callable[[Sequence[int]], list[int | None]]:
    def lines_of(rows: Sequence[int]) -> list[int | None]:
        wanted = {row: i for i, row in enumerate(rows)}
        out: list[int | None] = [None] * len(rows)
        seen = -1
        with open(path, "rb") as fh:
            for number, line in enumerate(fh, start=1):
                if line.strip():
                    seen += 1
                    if seen in wanted:
                        out[wanted[seen]] = number
        return out

    return lines_of
