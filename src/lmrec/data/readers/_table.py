"""Fast delimited-text parsing with exact error locations.

The happy path is one multithreaded pyarrow parse with typed columns. Only when that
fails (or finds empty numbers) does a second, all-string parse run, where each column is
validated with vectorised pandas conversions. Line numbers for an error message are found
by scanning the file once more, which only happens on the way to raising.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from lmrec.data.dataset import DropReport
from lmrec.errors import DataError

#: "id" keeps ids as text; "int_id" parses integer ids (faster, for formats that promise
#: integers); ids may be empty (counted as missing later). Numbers may not be empty.
Kind = Literal["str", "id", "int_id", "int", "float", "timestamp"]
OnBadLines = Literal["error", "skip"]

SKIP_HINT = "fix the value or pass on_bad_lines='skip'"

_ARROW_TYPES: dict[str, pa.DataType] = {
    "str": pa.string(),
    "id": pa.string(),
    "int_id": pa.int64(),
    "int": pa.int64(),
    "float": pa.float64(),
    "timestamp": pa.float64(),
}


@dataclass(frozen=True)
class TableFormat:
    """How a delimited file is laid out."""

    sep: str = ","
    header: bool = True
    names: tuple[str, ...] | None = None  # column names when the file has no header
    quoted: bool = True
    encoding: str = "utf-8"


def check_on_bad_lines(on_bad_lines: str) -> None:
    if on_bad_lines not in ("error", "skip"):
        raise DataError(f"on_bad_lines must be 'error' or 'skip', not {on_bad_lines!r}")


def read_table(
    path: Path,
    fmt: TableFormat,
    kinds: Mapping[str, Kind],
    *,
    on_bad_lines: OnBadLines,
    report: DropReport,
    usecols: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Parse `path` into a frame of the requested columns, converted per `kinds`.

    Columns not named in `kinds` are text. Rows with the wrong number of fields or a value
    that does not convert raise DataError (file, line, field) or, when skipping, are
    dropped and counted in `report` by reason.
    """
    check_on_bad_lines(on_bad_lines)
    names = column_names(path, fmt)
    missing = [c for c in [*kinds, *(usecols or ())] if c not in names]
    if missing:
        raise DataError(
            f"no column '{missing[0]}' (columns are: {', '.join(names)}); rename the column "
            "or pass columns={...} to say which column holds what",
            path=str(path),
        )
    source = _source(path, fmt)
    wrong_width: list[int] = []

    def on_invalid(row: pacsv.InvalidRow) -> str:
        wrong_width.append(row.actual_columns)
        return "skip"

    def parse(types: Mapping[str, pa.DataType]) -> pa.Table:
        # Columns without a kind are text: never let pyarrow turn a zip code into a number.
        all_types = {c: types.get(c, pa.string()) for c in names}
        return _parse(path, source, fmt, all_types, usecols, on_invalid)

    try:
        table = parse({c: _ARROW_TYPES[k] for c, k in kinds.items()})
        needs_check = _has_empty_numbers(table, kinds)
    except pa.ArrowInvalid:  # a value did not convert: find it on the all-text path
        needs_check = True
    if needs_check:
        wrong_width.clear()
        table = parse({})
    if wrong_width:
        if on_bad_lines == "error":
            line, n = _first_wrong_width_line(path, fmt, len(names))
            raise DataError(
                f"expected {len(names)} fields, found {n}; "
                "fix the line or pass on_bad_lines='skip'",
                path=str(path),
                line=line,
            )
        report.add(f"{path.name}: wrong number of fields", len(wrong_width))
    if needs_check:
        return validate_columns(
            path,
            table.to_pandas(),
            kinds,
            on_bad_lines=on_bad_lines,
            report=report,
            line_of=lambda row: line_of_record(path, fmt, row),
        )
    return _to_frame(table, kinds)


def column_names(path: Path, fmt: TableFormat) -> list[str]:
    """The file's column names (its header, or the names the format gives)."""
    if not fmt.header:
        return list(fmt.names or ())
    first = next(_records(path, fmt), None)
    if first is None:
        raise DataError("the file is empty (expected a header line)", path=str(path))
    return [name.strip() for name in first[1]]


# ---- parsing ------------------------------------------------------------------------------
def _source(path: Path, fmt: TableFormat) -> Path | io.BytesIO:
    if len(fmt.sep) == 1:
        return path
    # pyarrow needs a one-character delimiter; MovieLens' "::" never occurs inside a value.
    return io.BytesIO(path.read_bytes().replace(fmt.sep.encode(), b"\x1f"))


def _parse(
    path: Path,
    source: Path | io.BytesIO,
    fmt: TableFormat,
    types: Mapping[str, pa.DataType],
    usecols: Sequence[str] | None,
    on_invalid: object,
) -> pa.Table:
    if isinstance(source, io.BytesIO):
        source.seek(0)
    read = pacsv.ReadOptions(
        column_names=list(fmt.names) if not fmt.header and fmt.names else None,
        encoding=fmt.encoding,
    )
    parse = pacsv.ParseOptions(
        delimiter=fmt.sep if len(fmt.sep) == 1 else "\x1f",
        quote_char='"' if fmt.quoted else False,
        invalid_row_handler=on_invalid,
    )
    convert = pacsv.ConvertOptions(
        column_types=dict(types),
        strings_can_be_null=True,
        null_values=[""],
        include_columns=list(usecols) if usecols else None,
    )
    try:
        return pacsv.read_csv(
            source, read_options=read, parse_options=parse, convert_options=convert
        )
    except (UnicodeDecodeError, pa.ArrowInvalid) as exc:
        if isinstance(exc, pa.ArrowInvalid) and "conversion" in str(exc):
            raise
        if "Empty CSV file" in str(exc):
            raise DataError("the file is empty", path=str(path)) from None
        raise DataError(f"cannot parse: {exc}", path=str(path)) from None


def _has_empty_numbers(table: pa.Table, kinds: Mapping[str, Kind]) -> bool:
    numeric = ("int", "float", "timestamp")
    return any(
        kinds[c] in numeric and table.column(c).null_count for c in table.column_names if c in kinds
    )


def _to_frame(table: pa.Table, kinds: Mapping[str, Kind]) -> pd.DataFrame:
    df = table.to_pandas(split_blocks=True)  # no block consolidation copy
    for name in table.column_names:
        kind = kinds.get(name, "str")
        if kind == "int_id" and table.column(name).null_count:
            df[name] = pd.array(table.column(name).to_pylist(), dtype="Int64")
        elif kind == "timestamp":
            stamps = df[name].to_numpy(dtype=np.float64)
            df[name] = np.floor(stamps / _epoch_unit(stamps)).astype(np.int64)
    return df


# ---- validation (slow path, still vectorised) -------------------------------------------
def validate_columns(
    path: Path,
    df: pd.DataFrame,
    kinds: Mapping[str, Kind],
    *,
    on_bad_lines: OnBadLines,
    report: DropReport,
    line_of: Callable[[int], int | None],
) -> pd.DataFrame:
    """Convert each column per its kind with vectorised pandas; raise on (or drop and count)
    rows whose values do not convert. `line_of(row)` gives the line a row came from."""
    bad_any = np.zeros(len(df), dtype=bool)
    problems: list[tuple[int, str, str]] = []  # (row, field, message) of each column's first
    converted: dict[str, object] = {}
    for col, kind in kinds.items():
        if col not in df:
            continue
        values, bad, what = _convert(df[col], kind)
        converted[col] = values
        bad &= ~bad_any  # count each dropped row once, under its first bad field
        if bad.any():
            first = int(np.flatnonzero(bad)[0])
            raw = df[col].iloc[first]
            shown = "empty" if pd.isna(raw) else f"'{raw}'"
            problems.append((first, col, f"{shown} is not {what}"))
            if on_bad_lines == "skip":
                report.add(f"{path.name}: bad value in '{col}'", int(bad.sum()))
            bad_any |= bad
    if problems and on_bad_lines == "error":
        row, field, message = min(problems)
        line = line_of(row)
        if line is None:
            message = f"row {row + 1}: {message}"
        raise DataError(f"{message}; {SKIP_HINT}", path=str(path), line=line, field=field)
    df = df.copy()
    for col, values in converted.items():
        df[col] = values
    if bad_any.any():
        df = df.loc[~bad_any].reset_index(drop=True)
    return df


def _convert(s: pd.Series, kind: Kind) -> tuple[object, np.ndarray, str]:
    """Converted column, mask of values that do not convert, and what was expected."""
    if kind in ("str", "id"):
        return s, np.zeros(len(s), dtype=bool), "text"
    if kind == "timestamp" and pd.api.types.is_datetime64_any_dtype(s.dtype):
        stamps = pd.to_datetime(s, utc=True)
        ok = stamps.notna().to_numpy()
        epoch = pd.Timestamp(0, tz="UTC")
        secs = ((stamps - epoch) // pd.Timedelta(seconds=1)).to_numpy(dtype=np.float64, na_value=0)
        return secs.astype(np.int64), ~ok, "a timestamp"
    missing = s.isna().to_numpy()
    nums = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    if kind in ("int", "int_id"):
        ok = np.isfinite(nums) & (np.floor(nums) == nums)
        bad = ~ok & ~missing if kind == "int_id" else ~ok
        out = pd.array(np.where(ok, nums, 0).astype(np.int64), dtype="Int64")
        out[~ok] = pd.NA
        values: object = out if kind == "int_id" else out.to_numpy(dtype=np.int64, na_value=0)
        return values, bad, "an integer"
    if kind == "float":
        return nums, ~np.isfinite(nums), "a number"
    # timestamp: epoch seconds (or ms / us / ns, told apart by size), or an ISO 8601 date/time
    ok = np.isfinite(nums)
    seconds = np.zeros(len(s), dtype=np.int64)
    seconds[ok] = np.floor(nums[ok] / _epoch_unit(nums[ok])).astype(np.int64)
    rest = ~ok & ~missing
    if rest.any():
        parsed = pd.to_datetime(s[rest], format="ISO8601", utc=True, errors="coerce")
        good = parsed.notna().to_numpy()
        epoch = pd.Timestamp(0, tz="UTC")
        secs = ((parsed[good] - epoch) // pd.Timedelta(seconds=1)).to_numpy(dtype=np.int64)
        idx = np.flatnonzero(rest)
        seconds[idx[good]] = secs
        ok[idx[good]] = True
    return seconds, ~ok, "a timestamp (epoch seconds or ISO 8601 date)"


def _epoch_unit(values: np.ndarray) -> float:
    """Divisor that turns a numeric epoch column into seconds. Logs often store
    milliseconds (JavaScript, Kafka) or finer; as seconds those would lie past the year
    5000, so the column's largest value decides the unit for the whole column."""
    if not len(values):
        return 1.0
    top = float(np.nanmax(np.abs(values)))
    for threshold, unit in ((1e17, 1e9), (1e14, 1e6), (1e11, 1e3)):
        if top >= threshold:
            return unit
    return 1.0


# ---- locating lines (only on the way to an error) ---------------------------------------
def _records(path: Path, fmt: TableFormat) -> Iterator[tuple[int, list[str]]]:
    """(line number where the record ends, fields) of each non-empty record after the header.
    Matches pyarrow's view: empty lines are not records."""
    utf8 = fmt.encoding.lower().replace("-", "").replace("_", "") == "utf8"
    encoding = "utf-8-sig" if utf8 else fmt.encoding  # pyarrow skips a BOM too
    with open(path, encoding=encoding, errors="replace", newline="") as fh:
        if fmt.quoted and len(fmt.sep) == 1:
            reader = csv.reader(fh, delimiter=fmt.sep)
            for fields in reader:
                if fields:
                    yield reader.line_num, fields
        else:
            for number, line in enumerate(fh, start=1):
                line = line.rstrip("\r\n")
                if line:
                    yield number, line.split(fmt.sep)


def _data_records(path: Path, fmt: TableFormat) -> Iterator[tuple[int, list[str]]]:
    records = _records(path, fmt)
    if fmt.header:
        next(records, None)
    return records


def _first_wrong_width_line(path: Path, fmt: TableFormat, width: int) -> tuple[int | None, int]:
    for line, fields in _data_records(path, fmt):
        if len(fields) != width:
            return line, len(fields)
    return None, 0


def line_of_record(path: Path, fmt: TableFormat, index: int) -> int | None:
    for i, (line, _) in enumerate(_data_records(path, fmt)):
        if i == index:
            return line
    return None
