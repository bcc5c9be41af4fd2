"""The `lmrec` command. Each command group lives in its own module and only adapts
library calls; user errors print one line and exit non-zero."""

from __future__ import annotations

import sys

import typer

from lmrec.errors import LmrecError

app = typer.Typer(
    name="lmrec",
    help="Recommendations from behaviour logs and pretrained language models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register_commands() -> None:
    # Imported here so that `lmrec --help` does not import every command's dependencies.
    from lmrec.cli import commands

    commands.register(app)


def main() -> None:
    _register_commands()
    try:
        app()
    except LmrecError as exc:
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        sys.exit(2)
