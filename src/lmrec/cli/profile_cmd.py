"""`lmrec profile user ID`: which items and terms make up a user's profile."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from lmrec.cli.common import console, print_json
from lmrec.errors import ConfigError, UnsupportedError

app = typer.Typer(help="What user profiles are made of.", no_args_is_help=True)


@app.command("user")
def user_profile(
    model_dir: Annotated[
        Path, typer.Option("--model", help="a trained content, tfidf or hybrid model")
    ],
    user_id: Annotated[str | None, typer.Argument(help="a known user id")] = None,
    history: Annotated[
        str | None, typer.Option(help="comma-separated item ids instead of a known user")
    ] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=1000, help="items and terms shown")] = 10,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """The items and terms that dominate a user's profile."""
    from lmrec.explain.profile import explain_user_profile
    from lmrec.models.artifacts import load_model
    from lmrec.models.capabilities import ExplainsProfile

    if user_id is None and not history:
        raise ConfigError("give a user id or --history ITEM,ITEM,...")
    model = load_model(model_dir)
    if not isinstance(model, ExplainsProfile):
        raise UnsupportedError(
            f"model '{model.name}' has no text profile to explain; use a content, tfidf "
            "or hybrid model"
        )
    items = [h.strip() for h in history.split(",") if h.strip()] if history else None
    explanation = explain_user_profile(
        model,
        user_id,
        history=items,
        k_items=k,
        k_terms=k,
    )
    if as_json:
        print_json(
            {
                "user_id": explanation.user_id,
                "n_items": explanation.n_items,
                "user_text": explanation.user_text,
                "items": explanation.items.to_dict(orient="records"),
                "terms": explanation.terms.to_dict(orient="records"),
            }
        )
        return
    for line in explanation.lines():
        console.print(line, highlight=False, markup=False)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="profile")
