"""`lmrec search "words"`: items by meaning, optionally leaning toward a user's taste.

Queries are embedded with the ONNX Runtime int8 build of the model's text encoder (it is
exported into the cache once, the first time), so a search loads neither torch nor the
PyTorch model; `--server URL` asks a running `lmrec serve` instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from lmrec.cli.common import console, err_console, frame_table, print_json
from lmrec.cli.data_options import DataArgs, DataOptions, with_data_options
from lmrec.core.options import TEXT_BACKENDS, FitOptions
from lmrec.errors import ConfigError


@with_data_options()
def search_cmd(
    query: Annotated[str, typer.Argument(help='what to look for, e.g. "funny animated films"')],
    k: Annotated[int, typer.Option("-k", min=1, max=10_000)] = 10,
    model_dir: Annotated[
        str | None,
        typer.Option(
            "--model",
            help="a trained content, hybrid or fusion model (with --server: its name there)",
        ),
    ] = None,
    data: Annotated[
        str | None, typer.Option("--data", help="search this dataset's catalogue instead")
    ] = None,
    server: Annotated[
        str | None,
        typer.Option("--server", help="ask a running `lmrec serve`, e.g. http://127.0.0.1:8000"),
    ] = None,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key", envvar="LMREC_API_KEY", help="key for a server whose reads need one"
        ),
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="blend in this user's taste")] = None,
    history: Annotated[
        str | None, typer.Option(help="comma-separated item ids (a new user's taste)")
    ] = None,
    blend: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="weight of the user's own scores")
    ] = 0.3,
    backend: Annotated[
        str, typer.Option(help=f"query encoder: {', '.join(TEXT_BACKENDS)}")
    ] = "onnx-int8",
    threads: Annotated[int | None, typer.Option(min=1, help="CPU threads for the query")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    *,
    data_args: DataArgs,
) -> None:
    """Items ranked by the similarity of their text to the query (MiniLM embeddings)."""
    items = [h.strip() for h in history.split(",") if h.strip()] if history else None
    if server is not None:
        if data is not None or items:
            raise ConfigError("--server searches the service's catalogue: drop --data/--history")
        from lmrec.cli.service_client import search_on_server

        frame = search_on_server(
            server, query, k, model=model_dir, user=user, blend=blend, api_key=api_key
        )
    else:
        options = FitOptions(text_backend=backend, threads=threads)
        opts = data_args.resolve()
        if model_dir is None:
            data = data or opts.path
        frame = _search_here(query, k, model_dir, data, user, items, blend, options, opts)
    if as_json:
        print_json(frame.to_dict(orient="records"))
        return
    who = f" for {user}" if user else (" for this history" if items else "")
    console.print(frame_table(frame, title=f"{query!r}{who}"))


def _search_here(
    query: str,
    k: int,
    model_dir: str | None,
    data: str | None,
    user: str | None,
    items: list[str] | None,
    blend: float,
    options: FitOptions,
    opts: DataOptions,
) -> pd.DataFrame:
    from lmrec.cli.items_cmd import with_titles
    from lmrec.search import catalogue_model, search

    if (model_dir is None) == (data is None):
        raise ConfigError("give exactly one of --model DIR or --data DATASET (or --server URL)")
    if model_dir is not None:
        from lmrec.models.artifacts import load_model

        model = load_model(Path(model_dir), options)
    else:
        dataset = opts.load(data)
        with err_console.status("embedding the catalogue"):
            encoder = {"backend": options.text_backend, "threads": options.threads}
            model = catalogue_model(dataset, encoder)
    with err_console.status("searching (the first search exports the text model to ONNX once)"):
        recs = search(model, query, k, user_id=user, history=items, blend=blend)
    return with_titles(model, recs.to_frame())


def register(app: typer.Typer) -> None:
    app.command("search")(search_cmd)
