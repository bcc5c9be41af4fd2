"""Fixtures shared across test packages, and how the suite is split between pytest-xdist
workers (`make test` runs two)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from typer.testing import CliRunner

from lmrec.cli.main import _register_commands, app
from lmrec.encoders import EncoderConfig, TextEncoder, get_encoder

_register_commands()

Invoke = Callable[..., tuple[int, str]]

#: modules that start Ray clusters or torch process groups: one worker runs them all, one
#: after another, so two clusters never compete for the same ports and cores
CLUSTER_MODULES = frozenset(
    {
        "tests/cli/test_recommend_all.py",
        "tests/cli/test_train_workers.py",
        "tests/training/test_replicas.py",
    }
)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under `--dist loadgroup`, each module's tests stay on one worker (its module-scoped
    fixtures, often a trained model, are built once), and the cluster modules share one."""
    if not config.pluginmanager.hasplugin("xdist"):  # e.g. the federated extra's own venv
        return
    for item in items:
        module = item.nodeid.split("::", 1)[0]
        group = "clusters" if module in CLUSTER_MODULES else module
        item.add_marker(pytest.mark.xdist_group(group))
    # Workers take modules in this order: the long ones (servers started per test, Ray
    # clusters) first, so the run does not end with one worker busy and the other idle.
    items.sort(key=lambda item: not _long(item.nodeid.split("::", 1)[0]))


def _long(module: str) -> bool:
    return module.startswith("tests/serving/") or module in CLUSTER_MODULES


@pytest.fixture(scope="session")
def minilm() -> TextEncoder:
    """The real default text model (all-MiniLM-L6-v2, offline), loaded once per session.

    Models built with the default EncoderConfig reuse this same loaded encoder."""
    return get_encoder(EncoderConfig())


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
