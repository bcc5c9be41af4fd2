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
    # Markdown: a docstring's wrapped lines flow into paragraphs that fit the terminal.
    rich_markup_mode="markdown",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        from lmrec import __version__

        typer.echo(f"lmrec {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="print the version and exit"
    ),
) -> None:
    """Recommendations from behaviour logs and pretrained language models.

    Environment: LMREC_HOME holds downloaded datasets, the model registry and the
    service's event store (default ~/.cache/lmrec); LMREC_CACHE_DIR holds cached text
    embeddings and exported ONNX encoders (default ~/.cache/lmrec)."""


def _register_commands() -> None:
    # Imported here so that `lmrec --help` does not import every command's dependencies.
    from lmrec.cli import commands

    if not getattr(app, "_lmrec_registered", False):
        commands.register(app)
        app._lmrec_registered = True  # type: ignore[attr-defined]


def main() -> None:
    _register_commands()
    app()
