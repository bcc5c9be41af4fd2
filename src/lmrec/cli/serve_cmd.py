"""`lmrec serve`: the HTTP service under uvicorn."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Annotated

import typer


def serve(
    registry: Annotated[
        Path | None, typer.Option(help="model registry (default $LMREC_HOME/registry)")
    ] = None,
    host: Annotated[str | None, typer.Option(help="address to bind (default 127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="port (default 8000)")] = None,
    db: Annotated[
        str | None,
        typer.Option(help="event store: sqlite:///PATH or postgresql://... (default: SQLite file)"),
    ] = None,
    api_key: Annotated[
        list[str] | None,
        typer.Option(
            "--api-key",
            help="admin key: every endpoint (repeatable; LMREC_WRITE_KEYS and "
            "LMREC_READ_KEYS for narrower keys)",
        ),
    ] = None,
    log_level: Annotated[str | None, typer.Option(help="uvicorn log level")] = None,
    log_user_ids: Annotated[
        str | None,
        typer.Option(
            "--log-user-ids",
            help="user ids in the logs: hash (default; a keyed hash) or raw",
            metavar="hash|raw",
        ),
    ] = None,
    default_model: Annotated[
        str | None,
        typer.Option(
            "--default-model",
            help="model for requests naming none (default: `lmrec models default`)",
        ),
    ] = None,
    reports: Annotated[
        Path | None,
        typer.Option(help="comparison reports the dashboard shows (default reports/compare)"),
    ] = None,
    open_ui: Annotated[
        bool, typer.Option("--open", help="open the dashboard (/ui) in a web browser")
    ] = False,
) -> None:
    """Serve recommendations, search and explanations, and take events back.

    Options override LMREC_* environment variables (LMREC_API_KEYS, LMREC_DB, ...).
    Without any API key a random one is made for this run and printed."""
    from lmrec.events.store import EventStore
    from lmrec.serving.settings import load_settings

    settings = load_settings(
        registry=registry,
        host=host,
        port=port,
        db=db,
        api_keys=api_key,
        log_level=log_level,
        log_user_ids=log_user_ids,
        default_model=default_model,
        reports=reports,
    )
    if not settings.api_keys:
        key = secrets.token_urlsafe(24)
        settings = settings.model_copy(update={"api_keys": [key]})
        typer.echo(
            f"no admin API key configured (LMREC_API_KEYS); for this run writes, promotions "
            f"and reads naming a user accept: Authorization: Bearer {key}",
            err=True,
        )
    EventStore(settings.db_url).close()  # a bad --db fails here, in one line, not in a traceback
    import uvicorn

    dashboard = f"http://{settings.host}:{settings.port}/ui"
    typer.echo(f"dashboard: {dashboard}", err=True)
    if open_ui:
        _open_when_up(dashboard)

    from lmrec.serving.app import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        timeout_graceful_shutdown=5,
    )


def _open_when_up(url: str) -> None:
    """Open `url` in the default browser once the server answers (from a thread, since
    uvicorn.run blocks)."""
    import threading
    import time
    import urllib.request
    import webbrowser

    def wait_and_open() -> None:
        for _ in range(300):
            try:
                with urllib.request.urlopen(url.replace("/ui", "/healthz"), timeout=1):
                    break
            except OSError:
                time.sleep(0.2)
        webbrowser.open(url)

    threading.Thread(target=wait_and_open, daemon=True).start()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
