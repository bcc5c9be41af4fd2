"""`lmrec profile user` for content and hybrid models (real text model, tiny catalogue)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from film_catalogue import FILMS, lmrec, taste_of, trained

__all__ = ["trained"]  # the module-scoped fixture, imported for pytest


@pytest.mark.parametrize("model", ["content", "hybrid"])
def test_profile_of_a_known_user(trained: Path, model: str) -> None:
    code, out = lmrec("profile", "user", "war2", "--model", trained / model, "-k", "3", "--json")
    assert code == 0, out
    profile = json.loads(out)
    assert profile["user_id"] == "war2" and profile["n_items"] == 4
    assert len(profile["items"]) == 3
    assert {taste_of(i["item_id"]) for i in profile["items"]} == {"war"}
    assert profile["items"][0]["share"] >= profile["items"][-1]["share"]
    assert {"war", "drama"} & {t["term"] for t in profile["terms"][:2]}


@pytest.mark.parametrize("model", ["content", "hybrid"])
def test_profile_of_a_history_as_text(trained: Path, model: str) -> None:
    code, out = lmrec("profile", "user", "--history", "alien,matrix", "--model", trained / model)
    assert code == 0, out
    assert "profile of this history: 2 items" in out
    assert "The Matrix" in out and "sci-fi" in out
    assert len(FILMS["scifi"]) == 5  # the catalogue the test relies on


def test_profile_errors(trained: Path) -> None:
    code, out = lmrec("profile", "user", "war2", "--model", trained / "ease")
    assert code == 2 and "no text profile" in out
    code, out = lmrec("profile", "user", "--model", trained / "content")
    assert code == 2 and "--history" in out
    code, out = lmrec("profile", "user", "nobody", "--model", trained / "hybrid")
    assert code == 2 and "nobody" in out
