"""`lmrec train rerank --set ranker=llm`: nothing to learn, the artifact holds no language
model weights (they come from the llm extra), and the loaded model recommends from them."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from lmrec.encoders import small_lm

Invoke = Callable[..., tuple[int, str]]


@pytest.mark.skipif(not small_lm.installed(), reason="the llm extra is not installed")
def test_train_and_recommend_with_the_llm_ranker(
    invoke: Invoke, invoke_stdout: Invoke, ratings_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "llm"
    sets = ["--set", "ranker=llm", "--set", "candidates=4", "--set", "llm_history=3"]
    code, text = invoke(
        "train", "rerank", "--data", ratings_dir, *sets, "--threads", "1", "--out", out
    )
    assert code == 0, text
    size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    assert size < 5_000_000  # the retriever and the titles, not 540 MB of weights
    # standard output alone: a first load converts the weights with progress on stderr
    code, text = invoke_stdout("recommend", out, "--user", "0", "-k", "4", "--json")
    assert code == 0, text
    scores = [r["score"] for r in json.loads(text)]
    assert len(scores) == 4 and scores == sorted(scores, reverse=True)


def test_a_bad_llm_option_names_the_field(
    invoke: Invoke, ratings_dir: Path, tmp_path: Path
) -> None:
    code, text = invoke(
        "train", "rerank", "--data", ratings_dir, "--set", "ranker=llm",
        "--set", "llm_mix=2", "--out", tmp_path / "bad",
    )  # fmt: skip
    assert code == 2 and "llm_mix" in text
