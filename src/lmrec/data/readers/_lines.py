"""A delimited file as lines: where a record starts and ends, which lines are not UTF-8,
which lines open a quote they never close. Only used on the way to an error or a drop
count, so plain Python line scans are fine here; the happy path never calls them.

`TextSource` is the file as the parser sees it: lines found bad can be blanked (pyarrow and
the scans below both skip empty lines, so every other line keeps its number).
"""

from __future__ import annotations

import csv
import io
import mmap
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: separator the parser sees instead of a multi-character one (MovieLens' "::")
UNIT_SEPARATOR = "\x1f"


@dataclass(frozen=True)
class TableFormat:
    """How a delimited file is laid out."""

    sep: str = ","
    header: bool = True
    names: tuple[str, ...] | None = None  # column names when the file has no header
    quoted: bool = True
    encoding: str = "utf-8"
    #: a quoted value may hold line breaks (catalogue descriptions); in an interaction log
    #: a value spanning lines means a stray quote swallowed the lines after it
    multiline: bool = False

    @property
    def utf8(self) -> bool:
        return self.encoding.lower().replace("-", "").replace("_", "") == "utf8"


@dataclass
class TextSource:
    """The file, minus the lines blanked so far."""

    path: Path
    fmt: TableFormat
    blanked: set[int] = field(default_factory=set)

    def blank(self, lines: Sequence[int]) -> None:
        self.blanked.update(lines)

    def for_parser(self) -> Path | io.BytesIO:
        if not self.blanked and len(self.fmt.sep) == 1:
            return self.path
        data = self.data()
        if len(self.fmt.sep) > 1:  # pyarrow needs a one-character delimiter
            data = data.replace(self.fmt.sep.encode(), UNIT_SEPARATOR.encode())
        return io.BytesIO(data)

    def data(self) -> bytes:
        raw = self.path.read_bytes()
        if not self.blanked:
            return raw
        lines = raw.split(b"\n")
        for number in self.blanked:
            if 0 < number <= len(lines):
                lines[number - 1] = b""
        return b"\n".join(lines)

    def text_lines(self) -> Iterator[str]:
        """Lines as text ('\\n' for a blanked line, so line numbers stay right)."""
        encoding = "utf-8-sig" if self.fmt.utf8 else self.fmt.encoding  # pyarrow skips a BOM
        with open(self.path, encoding=encoding, errors="replace", newline="") as fh:
            for number, line in enumerate(fh, start=1):
                yield "\n" if number in self.blanked else line

    # ---- records ---------------------------------------------------------------------------
    def records(self) -> Iterator[tuple[int, list[str]]]:
        """(line where the record ends, fields) of each non-empty record, header included.
        Matches pyarrow's view: empty lines are not records."""
        if self.fmt.quoted and len(self.fmt.sep) == 1:
            reader = csv.reader(self.text_lines(), delimiter=self.fmt.sep)
            for fields in reader:
                if fields:
                    yield reader.line_num, fields
            return
        for number, line in enumerate(self.text_lines(), start=1):
            line = line.rstrip("\r\n")
            if line:
                yield number, line.split(self.fmt.sep)

    def data_records(self) -> Iterator[tuple[int, list[str]]]:
        records = self.records()
        if self.fmt.header:
            next(records, None)
        return records

    def lines_of(self, rows: Sequence[int]) -> list[int | None]:
        """Line numbers of the given data records (0-based, in parse order)."""
        wanted = {row: i for i, row in enumerate(rows)}
        out: list[int | None] = [None] * len(rows)
        left = len(wanted)
        for index, (line, _) in enumerate(self.data_records()):
            if index in wanted:
                out[wanted[index]] = line
                left -= 1
                if not left:
                    break
        return out

    def wrong_width_lines(self, width: int) -> list[tuple[int, int]]:
        """(line, number of fields) of every data record without `width` fields."""
        return [(line, len(f)) for line, f in self.data_records() if len(f) != width]

    # ---- damage that hides rows ----------------------------------------------------------
    def non_utf8_lines(self) -> list[tuple[int, int, bytes]]:
        """(line, byte offset, the line's bytes) of each line that is not valid UTF-8."""
        bad = []
        with open(self.path, "rb") as fh:
            for number, line in enumerate(fh, start=1):
                if number in self.blanked:
                    continue
                try:
                    line.decode("utf-8")
                except UnicodeDecodeError as exc:
                    bad.append((number, exc.start, line))
        return bad

    def lines_inside_records(self, records: int) -> int:
        """How many more non-empty data lines the file has than the parser found records:
        lines that ended up inside a quoted value. Cheap when the file has no quote."""
        if not self.fmt.quoted or not _has_quote(self.path):
            return 0
        data = self.data()
        if b"\n\n" in data or b"\n\r\n" in data or data.startswith((b"\n", b"\r\n")):
            lines = len(re.findall(rb"(?m)^(?!\r?$)", data))  # starts of non-empty lines
        else:  # no empty line: counting line ends is enough (and 50x faster)
            lines = data.count(b"\n") + int(bool(data) and not data.endswith(b"\n"))
        return max(0, lines - int(self.fmt.header) - records)

    def unclosed_quote_lines(self) -> list[int]:
        """Lines that open a quoted value and do not close it on the same line."""
        out = []
        sep = self.fmt.sep
        for number, line in enumerate(self.text_lines(), start=1):
            if '"' not in line:
                continue
            try:
                next(csv.reader([line.rstrip("\r\n")], delimiter=sep, strict=True), None)
            except csv.Error as exc:
                if "unexpected end of data" in str(exc):
                    out.append(number)
        return out


def field_at(line: bytes, offset: int, sep: str) -> int:
    """Index of the field holding byte `offset` of a (single-line) record."""
    prefix = line[:offset].decode("utf-8", errors="replace")
    if len(sep) > 1:
        return prefix.count(sep)
    return max(0, len(next(csv.reader([prefix], delimiter=sep), [""])) - 1)


def _has_quote(path: Path) -> bool:
    if path.stat().st_size == 0:
        return False
    with open(path, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        return mm.find(b'"') >= 0
