"""`lmrec items add` then recommend and search: new films known by their text alone."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from film_catalogue import lmrec, trained

__all__ = ["trained"]  # the module-scoped fixture, imported for pytest

NEW = pd.DataFrame(
    {
        "item_id": ["monsters", "gattaca"],
        "title": ["Monsters, Inc.", "Gattaca"],
        "genres": ["Animation|Children's|Comedy", "Drama|Sci-Fi|Thriller"],
    }
)


def recommend(model: Path, history: str, k: int) -> list[str]:
    code, out = lmrec("recommend", model, "--history", history, "-k", k, "--json")
    assert code == 0, out
    return [r["item_id"] for r in json.loads(out)]


@pytest.mark.parametrize("name", ["content", "hybrid"])
def test_added_films_are_recommended_and_found(trained: Path, tmp_path: Path, name: str) -> None:
    new_file = tmp_path / "new_items.csv"
    NEW.to_csv(new_file, index=False)
    out_dir = tmp_path / f"{name}-plus"
    code, out = lmrec("items", "add", trained / name, "--file", new_file, "--out", out_dir)
    assert code == 0, out
    assert "2 added, 0 updated" in out and "17 items" in out
    meta = json.loads((out_dir / "model.json").read_text())
    assert meta["n_items"] == 17 and meta["items_added"] == 2 and meta["protocol"] == "none"
    # a new user who liked three cartoons: the new cartoon comes before the new sci-fi film
    ranked = recommend(out_dir, "toy,lion,aladdin", 14)
    assert "monsters" in ranked and "gattaca" in ranked
    assert ranked.index("monsters") < ranked.index("gattaca")
    assert not {"toy", "lion", "aladdin"} & set(ranked)
    # and the new films are searchable by their text
    code, out = lmrec("search", "monsters scaring children", "--model", out_dir, "--json")
    assert code == 0 and json.loads(out)[0]["item_id"] == "monsters"
    # the original model directory is untouched
    assert json.loads((trained / name / "model.json").read_text())["n_items"] == 15


def test_items_add_in_place_with_jsonl_and_updates(trained: Path, tmp_path: Path) -> None:
    model = tmp_path / "content"
    code, out = lmrec("items", "add", trained / "content", "--file", _csv(tmp_path), "--out", model)
    assert code == 0, out
    update = tmp_path / "update.jsonl"
    update.write_text('{"item_id": "gattaca", "title": "Gattaca", "genres": "Sci-Fi"}\n')
    code, out = lmrec("items", "add", model, "--file", update)
    assert code == 0, out
    assert "0 added, 1 updated" in out
    assert json.loads((model / "model.json").read_text())["items_added"] == 2


def test_items_add_errors(trained: Path, tmp_path: Path) -> None:
    code, out = lmrec("items", "add", trained / "ease", "--file", _csv(tmp_path))
    assert code == 2 and "cannot take new items" in out
    no_ids = tmp_path / "no_ids.csv"
    no_ids.write_text("title\nSomething\n")
    code, out = lmrec("items", "add", trained / "content", "--file", no_ids)
    assert code == 2 and "item_id" in out
    code, out = lmrec("items", "add", trained / "content", "--file", tmp_path / "missing.csv")
    assert code == 2 and "not found" in out


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "new.csv"
    NEW.to_csv(path, index=False)
    return path
