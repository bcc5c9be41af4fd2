"""Damaged and hostile log files on the command line: one line naming file, line and field
(exit 2), or, with --on-bad-lines skip, the bad rows dropped and counted with their lines.
Never a traceback, never a row lost unseen."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

Invoke = Callable[..., tuple[int, str]]


def inspect_json(invoke: Invoke, *args: object) -> dict:
    code, text = invoke("data", "inspect", *args, "--json")
    assert code == 0, text
    return json.loads(text[text.index("{") :])


def one_error_line(text: str) -> str:
    assert "Traceback" not in text
    errors = [line for line in text.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, text
    return errors[0]


@pytest.fixture
def latin1_log(tmp_path: Path) -> Path:
    """A UTF-8 log with one line written by a Latin-1 tool: 'Café' as bytes 43 61 66 e9."""
    path = tmp_path / "log.csv"
    path.write_bytes(b"user_id,item_id,rating\nu1,tea,5\nu2,caf\xe9,4\nu3,tea,3\nu3,cake,4\n")
    return path


@pytest.mark.parametrize("command", ["inspect", "train"])
def test_bytes_that_are_not_utf8_are_named(
    invoke: Invoke, latin1_log: Path, tmp_path: Path, command: str
) -> None:
    if command == "inspect":
        code, text = invoke("data", "inspect", latin1_log)
    else:
        code, text = invoke("train", "pop", "--data", latin1_log, "--out", tmp_path / "m")
    assert code == 2
    line = one_error_line(text)
    assert "log.csv, line 3, field 'item_id': byte 0xe9 is not UTF-8 text" in line
    assert "--on-bad-lines skip" in line


def test_bytes_that_are_not_utf8_are_skipped_and_counted(
    invoke: Invoke, latin1_log: Path, tmp_path: Path
) -> None:
    report = inspect_json(invoke, latin1_log, "--on-bad-lines", "skip")
    assert report["interactions"] == 3
    assert report["rows_read"] == 4
    assert report["dropped"] == {"log.csv: not UTF-8 text": 1}
    assert report["dropped_lines"] == {"log.csv: not UTF-8 text": [3]}
    code, text = invoke(
        "train", "pop", "--data", latin1_log, "--on-bad-lines", "skip", "--protocol", "none",
        "--out", tmp_path / "m",
    )  # fmt: skip
    assert code == 0, text
    assert "dropped 1 (log.csv: not UTF-8 text: 1 (line 3))" in text


def test_a_header_without_rows_is_an_empty_log(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("user_id,item_id,rating\n")
    code, text = invoke("data", "inspect", path)
    assert code == 2
    assert "log.csv: the log is empty" in one_error_line(text)
    code, text = invoke("train", "ease", "--data", path, "--out", tmp_path / "m")
    assert code == 2
    assert "the log is empty" in one_error_line(text)
    assert "AssertionError" not in text


def test_a_log_whose_every_row_is_dropped_says_why(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("user_id,item_id,rating\nu1,a,x\nu2,b,y\n")
    code, text = invoke("train", "pop", "--data", path, "--on-bad-lines", "skip", "--out", "m")
    assert code == 2
    line = one_error_line(text)
    assert "no interactions left" in line and "bad value in 'rating': 2 (lines 2, 3)" in line


@pytest.fixture
def far_future_log(tmp_path: Path) -> Path:
    """200 ratings from 1997 in epoch seconds, then 50 rows at 99999999999 (year 5138)."""
    lines = ["user_id,item_id,rating,timestamp"]
    lines += [f"u{i % 20},i{i},4,{875_000_000 + 3600 * i}" for i in range(200)]
    lines += [f"u{i % 20},j{i},4,99999999999" for i in range(50)]
    path = tmp_path / "log.csv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_far_future_timestamp_does_not_rescale_the_column(
    invoke: Invoke, far_future_log: Path
) -> None:
    code, text = invoke("data", "inspect", far_future_log)
    assert code == 2
    line = one_error_line(text)
    assert "log.csv, line 202, field 'timestamp': '99999999999' is out of range" in line
    assert "year 5138" in line

    report = inspect_json(invoke, far_future_log, "--on-bad-lines", "skip")
    assert report["interactions"] == 200
    assert report["time_range"]["first"] == "1997-09-23"  # still 1997, not 1970
    reason = "log.csv: timestamp out of range in 'timestamp'"
    assert report["dropped"] == {reason: 50}
    assert report["dropped_lines"][reason] == [202, 203, 204, 205, 206]


def test_milliseconds_are_still_recognised_by_the_bulk(invoke: Invoke, tmp_path: Path) -> None:
    path = tmp_path / "clicks.csv"
    rows = [f"u{i % 5},i{i},{1_700_000_000_000 + 60_000 * i}" for i in range(30)]
    path.write_text("user_id,item_id,timestamp\n" + "\n".join(rows) + "\n")
    report = inspect_json(invoke, path)
    assert report["time_range"]["first"] == "2023-11-14"
    assert "'timestamp' read as epoch milliseconds" in report["notes"]


@pytest.fixture
def hostile_log(tmp_path: Path) -> Path:
    path = tmp_path / "log.csv"
    path.write_bytes(
        b"user_id,item_id,rating\nu1,a,5\nu2,b,nan\nu3,c,inf\nu4\x00x,d,3\nu5,e,-2\nu6,f,4\n"
    )
    return path


def test_files_get_the_services_validation(invoke: Invoke, hostile_log: Path) -> None:
    code, text = invoke("data", "inspect", hostile_log)
    assert code == 2
    assert "log.csv, line 3, field 'rating': 'nan' is not a finite number" in one_error_line(text)

    report = inspect_json(invoke, hostile_log, "--on-bad-lines", "skip")
    assert report["interactions"] == 2
    assert report["dropped"] == {
        "log.csv: control character in 'user_id'": 1,
        "log.csv: negative rating in 'rating'": 1,
        "log.csv: not a finite number in 'rating'": 2,
    }
    assert report["dropped_lines"]["log.csv: not a finite number in 'rating'"] == [3, 4]
    assert report["dropped_lines"]["log.csv: control character in 'user_id'"] == [5]
    assert report["values"]["min"] >= 0  # statistics stay numbers


def test_negative_values_are_weights_when_feedback_is_implicit(
    invoke: Invoke, hostile_log: Path
) -> None:
    report = inspect_json(invoke, hostile_log, "--on-bad-lines", "skip", "--feedback", "implicit")
    assert report["feedback"] == "implicit"
    assert report["interactions"] == 3  # u5's -2 is kept as a weight
    assert report["values"]["min"] == -2


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"user_id": "u1", "item_id": "a", "rating": 4}\n{"user_id": "u\\u0000", '
         b'"item_id": "b", "rating": 3}\n', "line 2, field 'user_id': the id contains"),
        (b'{"user_id": "u1", "item_id": "a", "rating": 4}\n{"user_id": "u2", '
         b'"item_id": "caf\xe9", "rating": 3}\n', "line 2: byte 0xe9 is not UTF-8 text"),
    ],
)  # fmt: skip
def test_json_lines_are_held_to_the_same_rules(
    invoke: Invoke, tmp_path: Path, body: bytes, message: str
) -> None:
    path = tmp_path / "log.jsonl"
    path.write_bytes(body)
    code, text = invoke("data", "inspect", path)
    assert code == 2
    assert message in one_error_line(text)
    report = inspect_json(invoke, path, "--on-bad-lines", "skip")
    assert report["interactions"] == 1 and report["dropped_total"] == 1
