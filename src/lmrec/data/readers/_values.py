"""What a value of each column kind must be, and the vectorised checks that find the rows
that are not.

The rules are the service's (an event's value must be a finite number, an id printable
text) plus what only a file can get wrong: ratings below zero and timestamps outside
1970..2099, which are usually a value written in another unit than the rest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from lmrec.core.ids import CONTROL_PATTERN, id_problem
from lmrec.data.dataset import DropReport
from lmrec.errors import DataError

#: "id" keeps ids as text; "int_id" parses integer ids (faster, for formats that promise
#: integers); ids may be empty (counted as missing later). Numbers may not be empty.
#: "rating" is an explicit rating: a finite number, zero or more; "float" any finite number.
Kind = Literal["str", "id", "int_id", "int", "float", "rating", "timestamp"]
OnBadLines = Literal["error", "skip"]

#: how to go on past a bad line, on the command line and in Python
SKIP = "skip bad lines (--on-bad-lines skip; on_bad_lines='skip' in Python)"
SKIP_HINT = f"fix the value or {SKIP}"
NUMBER_KINDS = ("int", "float", "rating", "timestamp")
REAL_KINDS = ("float", "rating", "timestamp")

#: plausible event times: 1970-01-01 up to (not including) 2100-01-01, in epoch seconds
MIN_TIMESTAMP, MAX_TIMESTAMP = 0, 4_102_444_800
_SECONDS_PER_YEAR = 365.2425 * 86400
#: C0 control characters and DEL: never part of an id (the rule is lmrec.core.ids's)
_CONTROL = CONTROL_PATTERN
_UNIT_NAMES = {1e3: "milliseconds", 1e6: "microseconds", 1e9: "nanoseconds"}

LinesOf = Callable[[Sequence[int]], list[int | None]]


@dataclass
class Problem:
    """Rows of one column that break one rule."""

    mask: np.ndarray
    reason: str  # for the drop report, e.g. "bad value"
    message: Callable[[object], str]  # the raw value -> what is wrong with it


def epoch_unit(values: np.ndarray) -> float:
    """Divisor that turns a numeric epoch column into seconds. Logs often store
    milliseconds (JavaScript, Kafka) or finer; the unit is the one that puts the column's
    median in range, so that a few stray values cannot rescale all the others (those
    become out-of-range rows instead)."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return 1.0
    middle = float(np.median(np.abs(finite)))
    for threshold, unit in ((1e17, 1e9), (1e14, 1e6), (1e11, 1e3)):
        if middle >= threshold:
            return unit
    return 1.0


def note_unit(report: DropReport, column: str, unit: float) -> None:
    if unit != 1.0:
        report.note(f"'{column}' read as epoch {_UNIT_NAMES[unit]}")


def arrow_needs_check(table: pa.Table, kinds: Mapping[str, Kind]) -> bool:
    """Whether the typed parse holds a value the rules refuse (or an empty number): then
    the slow path finds the rows and their lines."""
    for name in table.column_names:
        kind, col = kinds.get(name, "str"), table.column(name)
        if kind in NUMBER_KINDS and col.null_count:
            return True
        if kind in REAL_KINDS and not _all(pc.is_finite(col)):
            return True
        if kind == "rating" and _any(pc.less(col, 0)):
            return True
        if kind == "timestamp" and _stamps_out_of_range(col.to_numpy()):
            return True
        if kind == "id" and pa.types.is_string(col.type) and _has_control(col):
            return True
    return False


def _stamps_out_of_range(stamps: np.ndarray) -> bool:
    return bool(_out_of_range(np.floor(stamps / epoch_unit(stamps))).any())


def _has_control(col: pa.ChunkedArray) -> bool:
    """Whether any string holds a control character. In UTF-8 a byte below 0x20 (or 0x7f)
    is always that character itself, so the raw data buffers can be scanned with NumPy
    (about 30x faster than a regex over the strings); a hit outside the array's slice only
    sends the column to the exact slow path."""
    for chunk in col.chunks:
        data = chunk.buffers()[2]
        if data is None:
            continue
        raw = np.frombuffer(data, dtype=np.uint8)
        if raw.size and ((raw < 0x20) | (raw == 0x7F)).any():
            return True
    return False


def validate_columns(
    path: Path,
    df: pd.DataFrame,
    kinds: Mapping[str, Kind],
    *,
    on_bad_lines: OnBadLines,
    report: DropReport,
    lines_of: LinesOf,
) -> pd.DataFrame:
    """Convert each column per its kind with vectorised pandas; raise on (or drop and count)
    rows whose values break a rule. `lines_of(rows)` gives the lines rows came from."""
    bad_any = np.zeros(len(df), dtype=bool)
    first: list[tuple[int, str, str]] = []  # (row, field, message) of each column's first
    drops: list[tuple[str, np.ndarray]] = []
    converted: dict[str, object] = {}
    for col, kind in kinds.items():
        if col not in df:
            continue
        values, problems = convert(df[col], kind)
        converted[col] = values
        if kind == "timestamp":
            note_unit(report, col, _unit_of(df[col]))
        for problem in problems:
            bad = problem.mask & ~bad_any  # each dropped row counted once, at its first fault
            if not bad.any():
                continue
            rows = np.flatnonzero(bad)
            first.append((int(rows[0]), col, problem.message(df[col].iloc[rows[0]])))
            drops.append((f"{path.name}: {problem.reason} in '{col}'", rows))
            bad_any |= bad
    if first and on_bad_lines == "error":
        row, field, message = min(first)
        line = lines_of([row])[0]
        if line is None:
            message = f"row {row + 1}: {message}"
        raise DataError(f"{message}; {SKIP_HINT}", path=str(path), line=line, field=field)
    for reason, rows in drops:
        report.add(reason, len(rows), lines=lines_of(rows[:5].tolist()))
    df = df.copy()
    for col, values in converted.items():
        df[col] = values
    if bad_any.any():
        df = df.loc[~bad_any].reset_index(drop=True)
    return df


def convert(s: pd.Series, kind: Kind) -> tuple[object, list[Problem]]:
    """The converted column and the rules its values break."""
    if kind == "str":
        return s, []
    if kind == "id":
        return s, _id_problems(s)
    if kind == "timestamp":
        return _timestamps(s)
    nums = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    # A float column's NaN is a value (not finite), an empty text cell is missing.
    missing = s.isna().to_numpy() & (s.dtype.kind != "f")
    if kind in ("int", "int_id"):
        ok = np.isfinite(nums) & (np.floor(nums) == nums)
        bad = ~ok & ~missing if kind == "int_id" else ~ok
        out = pd.array(np.where(ok, nums, 0).astype(np.int64), dtype="Int64")
        out[~ok] = pd.NA
        values: object = out if kind == "int_id" else out.to_numpy(dtype=np.int64, na_value=0)
        return values, [Problem(bad, "bad value", _not("an integer"))]
    unparsed = np.isnan(nums) & ~missing & ~_nan_text(s)
    problems = [
        Problem(missing | unparsed, "bad value", _not("a number")),
        Problem(~np.isfinite(nums) & ~missing & ~unparsed, "not a finite number", _not_finite),
    ]
    if kind == "rating":
        problems.append(Problem(nums < 0, "negative rating", _negative))
    return nums, problems


def _nan_text(s: pd.Series) -> np.ndarray:
    """Cells that spell NaN (they parse, as a value no model can use)."""
    if s.dtype.kind == "f":
        return np.isnan(s.to_numpy(dtype=np.float64))
    text = s.astype("str").str.strip().str.lower()
    return text.isin(("nan", "+nan", "-nan")).to_numpy(dtype=bool, na_value=False)


# ---- the rules, one by one -------------------------------------------------------------
def _id_problems(s: pd.Series) -> list[Problem]:
    if pd.api.types.is_numeric_dtype(s.dtype):
        return []
    text = s.astype("str")
    control = text.str.contains(_CONTROL, regex=True).to_numpy(dtype=bool, na_value=False)
    return [Problem(control & ~s.isna().to_numpy(), "control character", _control)]


def _timestamps(s: pd.Series) -> tuple[np.ndarray, list[Problem]]:
    """Epoch seconds (or ms / us / ns, told apart by the column's median) or ISO 8601."""
    missing = s.isna().to_numpy()
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        seconds, ok = _iso_seconds(s)
    else:
        nums = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        ok = np.isfinite(nums)
        seconds = np.zeros(len(s), dtype=np.int64)
        seconds[ok] = np.floor(nums[ok] / epoch_unit(nums[ok])).astype(np.int64)
        rest = ~ok & ~missing
        if rest.any():
            iso, good = _iso_seconds(s[rest])
            idx = np.flatnonzero(rest)
            seconds[idx[good]] = iso[good]
            ok[idx[good]] = True
    far = ok & _out_of_range(seconds)
    return seconds, [
        Problem(~ok, "bad value", _not("a timestamp (epoch seconds or ISO 8601 date)")),
        Problem(far, "timestamp out of range", _out_of_range_message(s, seconds)),
    ]


def _iso_seconds(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    parsed = pd.to_datetime(s, format="ISO8601", utc=True, errors="coerce")
    good = parsed.notna().to_numpy()
    epoch = pd.Timestamp(0, tz="UTC")
    secs = ((parsed - epoch) // pd.Timedelta(seconds=1)).to_numpy(dtype=np.float64, na_value=0)
    return secs.astype(np.int64), good


def _unit_of(s: pd.Series) -> float:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        return 1.0
    return epoch_unit(pd.to_numeric(s, errors="coerce").to_numpy(np.float64, na_value=np.nan))


def _out_of_range(seconds: np.ndarray) -> np.ndarray:
    return (seconds < MIN_TIMESTAMP) | (seconds >= MAX_TIMESTAMP)


def _out_of_range_message(s: pd.Series, seconds: np.ndarray) -> Callable[[object], str]:
    unit = _UNIT_NAMES.get(_unit_of(s), "seconds")

    def message(raw: object) -> str:
        hit = np.flatnonzero((s.astype("str") == str(raw)).to_numpy())
        year = 1970 + seconds[hit[0]] / _SECONDS_PER_YEAR if len(hit) else float("nan")
        return (
            f"'{raw}' is out of range as a time: read in epoch {unit} like most of the "
            f"column it falls in the year {int(year)}, outside 1970..2099"
        )

    return message


def _not(what: str) -> Callable[[object], str]:
    def message(raw: object) -> str:
        return f"{'empty' if _blank(raw) else repr(str(raw))} is not {what}"

    return message


def _not_finite(raw: object) -> str:
    return f"{str(raw)!r} is not a finite number"


def _negative(raw: object) -> str:
    return (
        f"{str(raw)!r} is a negative rating; explicit ratings are 0 or more (shift the "
        "scale, or read the column as implicit feedback if it holds weights)"
    )


def _control(raw: object) -> str:
    # called only for values the pattern matched, so there is always a problem to name
    return id_problem(str(raw)) or "the id contains a control character"


def _blank(raw: object) -> bool:
    return raw is None or (isinstance(raw, float) and np.isnan(raw)) or raw is pd.NA


def _all(mask: pa.ChunkedArray | pa.Array) -> bool:
    return bool(pc.all(mask).as_py() is not False)


def _any(mask: pa.ChunkedArray | pa.Array) -> bool:
    return bool(pc.any(mask).as_py())
