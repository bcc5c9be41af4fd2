"""A small explicit-ratings dataset on disk, shaped like a user's own export."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lmrec.cli.main import _register_commands, app
from lmrec.data.synthetic import generate

_register_commands()


@pytest.fixture(scope="session")
def ratings_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """interactions.csv (user_id,item_id,value,timestamp) + items.csv (item_id,title,genres)."""
    ds = generate(n_users=80, n_items=60, n_interactions=2400, seed=3, explicit=True)
    out = tmp_path_factory.mktemp("ratings")
    ds.to_frame().to_csv(out / "interactions.csv", index=False)
    assert ds.items is not None
    ds.items[["item_id", "title", "genres"]].to_csv(out / "items.csv", index=False)
    return out


Invoke = Callable[..., tuple[int, str]]


@pytest.fixture()
def invoke() -> Invoke:
    """Run `lmrec ARGS...` in-process; returns (exit code, output)."""
    runner = CliRunner()

    def run(*args: object) -> tuple[int, str]:
        result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
        return result.exit_code, result.output

    return run


@pytest.fixture()
def invoke_stdout() -> Invoke:
    """Run `lmrec ARGS...` in-process; returns (exit code, standard output alone), for
    output a user pipes (JSON) while progress goes to standard error."""
    runner = CliRunner()

    def run(*args: object) -> tuple[int, str]:
        result = runner.invoke(app, [str(a) for a in args], catch_exceptions=False)
        return result.exit_code, result.stdout

    return run
