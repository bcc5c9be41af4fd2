"""`lmrec recommend --explain template|text`: why each item is in a user's list, and for
text one generated sentence per item naming the history item the template found."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from lmrec.encoders import small_lm

Invoke = Callable[..., tuple[int, str]]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, ratings_dir: Path) -> Path:
    from typer.testing import CliRunner

    from lmrec.cli.main import app

    out = tmp_path_factory.mktemp("explain") / "ease"
    args = ["train", "ease", "--data", str(ratings_dir), "--threads", "1", "--out", str(out)]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def test_template_explanations_name_similar_history_items(invoke: Invoke, model_dir: Path) -> None:
    code, text = invoke("recommend", model_dir, "--user", "0", "-k", "3", "--explain",
                        "template", "--json")  # fmt: skip
    assert code == 0, text
    rows = json.loads(text)
    assert len(rows) == 3
    for row in rows:
        assert row["explanation"]["item_id"] == row["item_id"]
        assert row["explanation"]["because_of"]
        assert "text" not in row["explanation"]


@pytest.mark.skipif(not small_lm.installed(), reason="the llm extra is not installed")
def test_text_explanations_are_sentences_naming_what_the_template_found(
    invoke: Invoke, invoke_stdout: Invoke, model_dir: Path, ratings_dir: Path
) -> None:
    # standard output alone: a first load converts the weights with progress on stderr
    args = ["recommend", model_dir, "--user", "0", "-k", "3", "--explain", "text", "--json"]
    code, text = invoke_stdout(*args)
    assert code == 0, text
    rows = json.loads(text)
    items = pd.read_csv(ratings_dir / "items.csv")
    titles = dict(zip(items["item_id"].astype(str), items["title"], strict=True))
    sentences = [row["explanation"]["text"] for row in rows]
    for row, sentence in zip(rows, sentences, strict=True):
        first = row["explanation"]["because_of"][0]["item_id"]
        assert titles[first] in sentence and titles[row["item_id"]] in sentence
    assert len(set(sentences)) == len(sentences)
    # the table shows the sentence too
    code, table = invoke("recommend", model_dir, "--user", "0", "-k", "3", "--explain", "text")
    assert code == 0 and "why" in table


def test_a_bad_style_names_the_option(invoke: Invoke, model_dir: Path) -> None:
    code, text = invoke("recommend", model_dir, "--user", "0", "--explain", "poem")
    assert code == 2 and "--explain" in text
