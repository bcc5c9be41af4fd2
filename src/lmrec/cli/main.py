"""The `lmrec` command. Each command group lives in its own module and only adapts
library calls; user errors print one line and exit non-zero."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from lmrec.errors import LmrecError


class _LmrecGroup(TyperGroup):
    """Root group: a user error (LmrecError) anywhere below becomes one red line on stderr
    and exit status 2 — never a traceback. Done here, not in main(), so that in-process
    runs (tests, notebooks) behave exactly like the installed command."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except LmrecError as exc:
            typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from None


app = typer.Typer(
    name="lmrec",
    cls=_LmrecGroup,
    help="Recommendations from behaviour logs and pretrained language models.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _register_commands() -> None:
    # Imported here so that `lmrec --help` does not import every command's dependencies.
    from lmrec.cli import commands

    if not getattr(app, "_lmrec_registered", False):
        commands.register(app)
        app._lmrec_registered = True  # type: ignore[attr-defined]


def main() -> None:
    _register_commands()
    app()
