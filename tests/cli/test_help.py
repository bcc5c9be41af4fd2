"""Help a user can read on an 80-column terminal, the version, and help that agrees with
the errors."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import typer

import lmrec
from lmrec.cli.common import PROTOCOLS
from lmrec.cli.main import app

Invoke = Callable[..., tuple[int, str]]


def command_paths() -> Iterator[tuple[str, ...]]:
    def walk(cmd: Any, path: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
        yield path
        for name, sub in getattr(cmd, "commands", {}).items():  # a group's commands
            yield from walk(sub, (*path, name))

    yield from walk(typer.main.get_command(app), ())


def test_version(invoke: Invoke) -> None:
    code, text = invoke("--version")
    assert code == 0
    assert text.strip() == f"lmrec {lmrec.__version__}"


@pytest.mark.parametrize("path", list(command_paths()), ids=lambda p: " ".join(p) or "lmrec")
def test_help_fits_80_columns(
    invoke: Invoke, monkeypatch: pytest.MonkeyPatch, path: tuple[str, ...]
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    code, text = invoke(*path, "--help")
    assert code == 0, text
    for line in text.splitlines():
        assert len(line) <= 80, line
        assert "…" not in line, f"cut off: {line}"


def test_root_help_names_the_environment(invoke: Invoke) -> None:
    text = invoke("--help")[1]
    assert "LMREC_HOME" in text and "LMREC_CACHE_DIR" in text


def test_train_help_and_its_error_name_the_same_protocols(invoke: Invoke, tmp_path) -> None:
    help_text = " ".join(invoke("train", "--help")[1].replace("│", " ").split())
    listed = re.search(r"split that holds out test data: (.*?); or none", help_text)
    assert listed is not None, help_text
    code, error = invoke("train", "ease", "--data", "x", "--protocol", "weekly", "--out", "y")
    assert code == 2
    accepted = re.search(r"choose from (.*), or none\)", error)
    assert accepted is not None, error
    assert listed.group(1) == accepted.group(1) == ", ".join(PROTOCOLS)
