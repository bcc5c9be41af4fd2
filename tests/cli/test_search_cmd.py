"""`lmrec search` with the real text model on a tiny film catalogue."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from film_catalogue import lmrec, taste_of, trained
from typer.testing import CliRunner

from lmrec.cli.main import app

__all__ = ["trained"]  # the module-scoped fixture, imported for pytest


def search(*args: object) -> list[dict[str, object]]:
    """The JSON on stdout (a data load also says what it read, on stderr)."""
    result = CliRunner().invoke(app, ["search", *map(str, args), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("model", ["content", "hybrid"])
def test_search_by_meaning(trained: Path, model: str) -> None:
    kids = search("funny animated films for kids", "--model", trained / model, "-k", "3")
    assert [taste_of(str(r["item_id"])) for r in kids] == ["kids"] * 3
    assert all(r["title"] for r in kids)
    space = search("robots and aliens in outer space", "--model", trained / model, "-k", "2")
    assert {taste_of(str(r["item_id"])) for r in space} == {"scifi"}


def test_search_a_catalogue_without_a_model(trained: Path) -> None:
    hits = search("soldiers in battle", "--data", trained / "films", "-k", "3")
    assert [taste_of(str(r["item_id"])) for r in hits] == ["war"] * 3
    code, out = lmrec("search", "soldiers in battle", "--data", trained / "films", "-k", "2")
    war_titles = ("Schindler", "Private Ryan", "Platoon", "Apocalypse", "Full Metal")
    assert code == 0 and any(title in out for title in war_titles)


def test_a_users_taste_is_blended_in(trained: Path) -> None:
    model = trained / "hybrid"
    plain = search("soldiers in battle", "--model", model, "--user", "kids0", "--blend", "0")
    leaning = search("soldiers in battle", "--model", model, "--user", "kids0", "--blend", "0.9")
    assert taste_of(str(plain[0]["item_id"])) == "war"
    assert taste_of(str(leaning[0]["item_id"])) == "kids"
    # a new user's taste from a few item ids works the same way
    folded = search("soldiers", "--model", model, "--history", "toy,lion", "--blend", "0.9")
    assert taste_of(str(folded[0]["item_id"])) == "kids"


def test_search_errors_are_one_line(trained: Path) -> None:
    code, out = lmrec("search", "anything")
    assert code == 2 and "--model" in out
    code, out = lmrec("search", "anything", "--model", trained / "ease")
    assert code == 2 and "cannot search by text" in out and "Traceback" not in out
    code, out = lmrec("search", "  ", "--model", trained / "content")
    assert code == 2 and "empty" in out
    code, out = lmrec("search", "war", "--model", trained / "content", "--user", "nobody")
    assert code == 2 and "nobody" in out
