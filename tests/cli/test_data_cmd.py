"""`lmrec data fetch` and `lmrec data inspect` through the Typer app."""

from __future__ import annotations

import hashlib
import json
import threading
import zipfile
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

import lmrec.data.fetch as fetch_module
from lmrec.cli.main import _register_commands, app

_register_commands()
runner = CliRunner()

U_DATA = "1\t10\t4\t881250949\n2\t10\t3\t881250950\n2\t20\t5\t881250951\n"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def grouplens(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A local stand-in for GroupLens serving an ml-100k.zip built here."""
    root = tmp_path / "www"
    root.mkdir()
    zip_path = root / "ml-100k.zip"
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.writestr("ml-100k/u.data", U_DATA)
    digest = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    archive = fetch_module.Archive("ml-100k.zip", zip_path.stat().st_size, digest)
    monkeypatch.setitem(fetch_module.ARCHIVES, "ml-100k", archive)
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_QuietHandler, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    monkeypatch.setenv("LMREC_GROUPLENS_URL", url)
    monkeypatch.setenv("LMREC_HOME", str(tmp_path / "home"))
    yield url
    server.shutdown()
    server.server_close()


def cell(table: str, label: str) -> str:
    """The value cell of the row labelled `label` in a printed two-column rich table."""
    for line in table.splitlines():
        parts = [p.strip() for p in line.split("│")]
        if len(parts) == 4 and parts[1] == label:
            return parts[2]
    raise AssertionError(f"no row {label!r} in:\n{table}")


def test_fetch_prints_where_the_files_are(tmp_path: Path, grouplens: str) -> None:
    result = runner.invoke(app, ["data", "fetch", "ml-100k"])
    assert result.exit_code == 0, result.output
    where = tmp_path / "home" / "datasets" / "ml-100k"
    assert result.stdout.strip() == str(where)
    assert (where / "u.data").read_text() == U_DATA


def test_inspect_registered_name(grouplens: str) -> None:
    result = runner.invoke(app, ["data", "inspect", "ml-100k"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert "dataset ml-100k" in out
    assert (cell(out, "users"), cell(out, "items"), cell(out, "interactions")) == ("2", "2", "3")
    assert "explicit" in out
    assert cell(out, "time range") == "1997-12-04 .. 1997-12-04 (0.0 days)"


def test_inspect_json(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("user_id,item_id,rating\n1,a,5\n1,a,4\n2,b,3\n")
    result = runner.invoke(app, ["data", "inspect", str(log), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["interactions"] == 2
    assert report["merged"] == {"duplicate (user, item), kept last": 1}
    assert report["dropped"] == {}


def test_inspect_skip_bad_lines(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("user_id,item_id,rating\n1,a,5\n2,b,x\n")
    result = runner.invoke(app, ["data", "inspect", str(log)])
    assert result.exit_code == 2
    assert "log.csv, line 3, field 'rating'" in result.output
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["data", "inspect", str(log), "--on-bad-lines", "skip"])
    assert result.exit_code == 0, result.output
    assert "log.csv: bad value in 'rating': 1" in result.stdout


def test_fetch_failure_is_a_fetch_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LMREC_HOME", str(tmp_path))
    result = runner.invoke(app, ["data", "fetch", "ml-3m"])
    assert result.exit_code == 2
    assert "unknown dataset 'ml-3m'" in result.output
