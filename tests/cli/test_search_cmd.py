"""`lmrec search` with the real text model on a tiny film catalogue."""

from __future__ import annotations

import json
import os
import subprocess
import sys
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


def test_a_search_loads_neither_torch_nor_the_pytorch_model(trained: Path) -> None:
    """Queries are embedded by the ONNX int8 build of the text model (exported into the
    cache by the first search); a later search, in a fresh process, never imports torch."""
    from lmrec.encoders import EncoderConfig
    from lmrec.encoders.base import resolve_model
    from lmrec.encoders.onnx_export import ensure_exported

    # what the first search does (done here: this process may hold an encoder exported
    # into another test's cache)
    config = EncoderConfig(backend="onnx-int8", cache_dir=str(trained / "cache"))
    ensure_exported(config, resolve_model(config), int8=True)
    first = search("robots and aliens in outer space", "--model", trained / "content", "-k", "3")
    script = (
        "import json, sys\n"
        "from typer.testing import CliRunner\n"
        "from lmrec.cli.main import _register_commands, app\n"
        "_register_commands()\n"
        "r = CliRunner().invoke(app, sys.argv[1:])\n"
        "print(json.dumps({'code': r.exit_code, 'out': r.stdout,\n"
        "                  'torch': 'torch' in sys.modules,\n"
        "                  'st': 'sentence_transformers' in sys.modules}))\n"
    )
    args = ["search", "robots and aliens in outer space", "--model", str(trained / "content")]
    env = {**os.environ, "LMREC_CACHE_DIR": str(trained / "cache")}
    done = subprocess.run(
        [sys.executable, "-c", script, *args, "-k", "3", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=True,
    )
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["code"] == 0, report
    assert json.loads(report["out"]) == first
    assert report["torch"] is False and report["st"] is False


def test_the_exact_torch_encoder_is_one_option_away(trained: Path) -> None:
    exact = search("soldiers in battle", "--model", trained / "content", "--backend", "torch")
    quick = search("soldiers in battle", "--model", trained / "content")
    assert [r["item_id"] for r in exact[:3]] == [r["item_id"] for r in quick[:3]]
    code, out = lmrec("search", "x", "--model", trained / "content", "--backend", "tf")
    assert code == 2 and "text_backend must be one of torch, onnx, onnx-int8" in out
