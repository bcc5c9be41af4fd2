"""Fast delimited-text parsing with exact error locations.

The happy path is one multithreaded pyarrow parse with typed columns. Only when that
fails (or finds a value the rules in `_values` refuse) does a second, all-string parse
run, where each column is validated with vectorised pandas conversions. Line numbers for
an error message or a drop count are found by scanning the file once more, which only
happens when something is wrong.

Two kinds of damage hide rows from a parser, and both are looked for: bytes that are not
UTF-8 text, and a stray quote that makes every following line part of one value. Either
is an error naming the line, or (when skipping) the damaged line is blanked, counted and
the file parsed again, so one bad line costs one row.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from lmrec.data.dataset import DropReport
from lmrec.data.readers._lines import UNIT_SEPARATOR, TableFormat, TextSource, field_at
from lmrec.data.readers._values import (
    SKIP,
    SKIP_HINT,
    Kind,
    OnBadLines,
    arrow_needs_check,
    epoch_unit,
    note_unit,
    validate_columns,
)
from lmrec.errors import DataError

__all__ = [
    "SKIP",
    "SKIP_HINT",
    "Kind",
    "OnBadLines",
    "TableFormat",
    "check_on_bad_lines",
    "column_names",
    "line_of_record",
    "read_table",
    "validate_columns",
]

_ARROW_TYPES: dict[str, pa.DataType] = {
    "str": pa.string(),
    "id": pa.string(),
    "int_id": pa.int64(),
    "int": pa.int64(),
    "float": pa.float64(),
    "rating": pa.float64(),
    "timestamp": pa.float64(),
}
#: parse passes at most: the first, one after blanking lines that are not UTF-8, one after
#: blanking lines with an unclosed quote (each blanks every such line at once), and spare
_MAX_PASSES = 4


class _NotUtf8(Exception):
    pass


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
    that breaks its kind's rules raise DataError (file, line, field) or, when skipping, are
    dropped and counted in `report` by reason, with their first line numbers.
    """
    check_on_bad_lines(on_bad_lines)
    names = column_names(path, fmt)
    missing = [c for c in [*kinds, *(usecols or ())] if c not in names]
    if missing:
        raise DataError(
            f"no column '{missing[0]}' (columns are: {', '.join(names)}); rename the column "
            "or map it (--columns ROLE=NAME on the command line, columns={...} in Python)",
            path=str(path),
        )
    source = TextSource(path, fmt)
    for _ in range(_MAX_PASSES):
        try:
            table, wrong_width, needs_check = _parse_checked(source, names, kinds, usecols)
        except _NotUtf8:
            _blank_non_utf8(source, names, on_bad_lines, report)
            continue
        inside = source.lines_inside_records(table.num_rows + wrong_width)
        if inside and fmt.multiline:  # allowed (descriptions), but said: a quote may be astray
            report.note(f"{path.name}: {inside:,} line breaks inside quoted values")
        elif inside and _blank_unclosed_quotes(source, inside, on_bad_lines, report):
            continue
        break
    else:  # every pass blanks lines it has not blanked before; this is not reached
        raise DataError("cannot parse the file", path=str(path))
    if wrong_width:
        _wrong_width(source, len(names), wrong_width, on_bad_lines, report)
    if needs_check:
        return validate_columns(
            path,
            table.to_pandas(),
            kinds,
            on_bad_lines=on_bad_lines,
            report=report,
            lines_of=source.lines_of,
        )
    return _to_frame(table, kinds, report)


def column_names(path: Path, fmt: TableFormat) -> list[str]:
    """The file's column names (its header, or the names the format gives)."""
    if not fmt.header:
        return list(fmt.names or ())
    first = next(TextSource(path, fmt).records(), None)
    if first is None:
        raise DataError("the file is empty (expected a header line)", path=str(path))
    return [name.strip() for name in first[1]]


def line_of_record(path: Path, fmt: TableFormat, index: int) -> int | None:
    """The line a data record (0-based, in parse order) ends on."""
    return TextSource(path, fmt).lines_of([index])[0]


# ---- parsing ------------------------------------------------------------------------------
def _parse_checked(
    source: TextSource,
    names: list[str],
    kinds: Mapping[str, Kind],
    usecols: Sequence[str] | None,
) -> tuple[pa.Table, int, bool]:
    """(table, rows of the wrong width, whether the values need the slow checks)."""
    wrong_width = [0]

    def on_invalid(row: pacsv.InvalidRow) -> str:
        wrong_width[0] += 1
        return "skip"

    def parse(types: Mapping[str, pa.DataType]) -> pa.Table:
        wrong_width[0] = 0
        # Columns without a kind are text: never let pyarrow turn a zip code into a number.
        all_types = {c: types.get(c, pa.string()) for c in names}
        return _parse(source, all_types, usecols, on_invalid)

    try:
        table = parse({c: _ARROW_TYPES[k] for c, k in kinds.items()})
        needs_check = arrow_needs_check(table, kinds)
    except pa.ArrowInvalid:  # a value did not convert: find it on the all-text path
        needs_check = True
    if needs_check:
        table = parse({})
    return table, wrong_width[0], needs_check


def _parse(
    source: TextSource,
    types: Mapping[str, pa.DataType],
    usecols: Sequence[str] | None,
    on_invalid: object,
) -> pa.Table:
    fmt = source.fmt
    read = pacsv.ReadOptions(
        column_names=list(fmt.names) if not fmt.header and fmt.names else None,
        encoding=fmt.encoding,
    )
    parse = pacsv.ParseOptions(
        delimiter=fmt.sep if len(fmt.sep) == 1 else UNIT_SEPARATOR,
        quote_char='"' if fmt.quoted else False,
        newlines_in_values=fmt.multiline,
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
            source.for_parser(), read_options=read, parse_options=parse, convert_options=convert
        )
    except (UnicodeDecodeError, pa.ArrowInvalid) as exc:
        text = str(exc)
        if isinstance(exc, UnicodeDecodeError) or "invalid UTF8" in text:
            raise _NotUtf8 from None
        if "conversion" in text:
            raise
        if "Empty CSV file" in text:
            raise DataError("the file is empty", path=str(source.path)) from None
        raise DataError(f"cannot parse: {exc}", path=str(source.path)) from None


def _to_frame(table: pa.Table, kinds: Mapping[str, Kind], report: DropReport) -> pd.DataFrame:
    df = table.to_pandas(split_blocks=True)  # no block consolidation copy
    for name in table.column_names:
        kind = kinds.get(name, "str")
        if kind == "int_id" and table.column(name).null_count:
            df[name] = pd.array(table.column(name).to_pylist(), dtype="Int64")
        elif kind == "timestamp":
            stamps = df[name].to_numpy(dtype=np.float64)
            unit = epoch_unit(stamps)
            note_unit(report, name, unit)
            df[name] = np.floor(stamps / unit).astype(np.int64)
    return df


# ---- damaged lines ------------------------------------------------------------------------
def _blank_non_utf8(
    source: TextSource, names: list[str], on_bad_lines: OnBadLines, report: DropReport
) -> None:
    bad = source.non_utf8_lines()
    if not bad:  # pyarrow saw a bad byte the line scan cannot place: say so plainly
        raise DataError("the file is not UTF-8 text; save it as UTF-8", path=str(source.path))
    line, offset, raw = bad[0]
    if on_bad_lines == "error":
        column = field_at(raw, offset, source.fmt.sep)
        raise DataError(
            f"byte 0x{raw[offset]:02x} is not UTF-8 text; save the file as UTF-8 or {SKIP}",
            path=str(source.path),
            line=line,
            field=names[column] if column < len(names) else None,
        )
    lines = [number for number, _, _ in bad]
    source.blank(lines)
    report.add(f"{source.path.name}: not UTF-8 text", len(lines), lines=lines[:5])


def _blank_unclosed_quotes(
    source: TextSource, inside: int, on_bad_lines: OnBadLines, report: DropReport
) -> bool:
    """Blank the lines whose quote swallowed the lines after them; False when no line can
    be blamed (nothing is blanked, and the parse stands)."""
    opened = source.unclosed_quote_lines()
    if not opened:
        report.note(f"{source.path.name}: {inside:,} lines are inside quoted values")
        return False
    if on_bad_lines == "error":
        raise DataError(
            f"a quote opened on this line is not closed on it, so {inside:,} following "
            'line(s) were read as part of one value; close or remove the quote (write "" '
            f"for a quote inside a quoted value) or {SKIP}",
            path=str(source.path),
            line=opened[0],
        )
    source.blank(opened)
    report.add(f"{source.path.name}: unclosed quote", len(opened), lines=opened[:5])
    return True


def _wrong_width(
    source: TextSource, width: int, count: int, on_bad_lines: OnBadLines, report: DropReport
) -> None:
    found = source.wrong_width_lines(width)
    if on_bad_lines == "error":
        line, n = found[0] if found else (None, 0)
        raise DataError(
            f"expected {width} fields, found {n}; fix the line or {SKIP}",
            path=str(source.path),
            line=line,
        )
    lines = [line for line, _ in found[:5]]
    report.add(f"{source.path.name}: wrong number of fields", count, lines=lines)
