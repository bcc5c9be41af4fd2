"""`lmrec search "words"`: items by meaning, optionally leaning toward a user's taste."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lmrec.cli.common import console, frame_table, print_json
from lmrec.cli.data_options import DataArgs, with_data_options
from lmrec.errors import ConfigError


@with_data_options()
def search_cmd(
    query: Annotated[str, typer.Argument(help='what to look for, e.g. "funny animated films"')],
    k: Annotated[int, typer.Option("-k", min=1, max=10_000)] = 10,
    model_dir: Annotated[
        Path | None, typer.Option("--model", help="a trained content, hybrid or fusion model")
    ] = None,
    data: Annotated[
        str | None, typer.Option("--data", help="search this dataset's catalogue instead")
    ] = None,
    user: Annotated[str | None, typer.Option("--user", help="blend in this user's taste")] = None,
    history: Annotated[
        str | None, typer.Option(help="comma-separated item ids (a new user's taste)")
    ] = None,
    blend: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="weight of the user's own scores")
    ] = 0.3,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    *,
    data_args: DataArgs,
) -> None:
    """Items ranked by the similarity of their text to the query (MiniLM embeddings)."""
    from lmrec.cli.items_cmd import with_titles
    from lmrec.search import catalogue_model, search

    opts = data_args.resolve()
    if model_dir is None:
        data = data or opts.path
    if (model_dir is None) == (data is None):
        raise ConfigError("give exactly one of --model DIR or --data DATASET")
    if model_dir is not None:
        from lmrec.models.artifacts import load_model

        model = load_model(model_dir)
    else:
        dataset = opts.load(data)
        with console.status("embedding the catalogue"):
            model = catalogue_model(dataset)
    items = [h.strip() for h in history.split(",") if h.strip()] if history else None
    recs = search(model, query, k, user_id=user, history=items, blend=blend)
    frame = with_titles(model, recs.to_frame())
    if as_json:
        print_json(frame.to_dict(orient="records"))
        return
    who = f" for {user}" if user else (" for this history" if items else "")
    console.print(frame_table(frame, title=f"{query!r}{who}"))


def register(app: typer.Typer) -> None:
    app.command("search")(search_cmd)
