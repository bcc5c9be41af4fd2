"""`lmrec recommend --rerank`: MMR over item text and calibration by genre, for one user,
a typed history and a file of users, as a user runs them."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lmrec.core.rerank import category_matrix, miscalibration
from lmrec.models.artifacts import load_model

Invoke = Callable[..., tuple[int, str]]


@pytest.fixture(scope="module")
def ease_dir(ratings_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from typer.testing import CliRunner

    from lmrec.cli.main import app

    out = tmp_path_factory.mktemp("rerank") / "ease"
    args = ["train", "ease", "--data", str(ratings_dir / "interactions.csv"), "--items",
            str(ratings_dir / "items.csv"), "--set", "reg=50", "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return out


def _items(invoke: Invoke, *args: object) -> list[str]:
    code, text = invoke("recommend", *args, "--json")
    assert code == 0, text
    return [row["item_id"] for row in json.loads(text)]


def _miscalibration(model_dir: Path, user: str, items: list[str]) -> float:
    model = load_model(model_dir)
    assert model.items is not None and model.item_map is not None and model.user_map is not None
    assert model.history_ is not None
    categories, _ = category_matrix(model.items["genres"].tolist())
    lists = model.item_map.lookup(items)[None, :]
    history = model.history_[model.user_map.index_of(user)]
    return float(miscalibration(lists, categories, history)[0])


def test_calibrated_lists_follow_the_users_genre_mix(invoke: Invoke, ease_dir: Path) -> None:
    user = ("--user", "3", "-k", "8")
    plain = _items(invoke, ease_dir, *user)
    assert _items(invoke, ease_dir, *user, "--rerank", "calibrated:0") == plain  # lambda 0
    calibrated = _items(invoke, ease_dir, *user, "--rerank", "calibrated:1")
    assert len(calibrated) == 8 and calibrated != plain
    top = _items(invoke, ease_dir, "--user", "3", "-k", "100")
    assert set(calibrated) <= set(top)  # chosen among the model's candidates, none seen
    assert _miscalibration(ease_dir, "3", calibrated) < _miscalibration(ease_dir, "3", plain)


def test_mmr_lists_are_more_varied_by_item_text(invoke: Invoke, ease_dir: Path) -> None:
    from lmrec.encoders.item_embeddings import item_text_vectors

    plain = _items(invoke, ease_dir, "--user", "5", "-k", "6")
    assert _items(invoke, ease_dir, "--user", "5", "-k", "6", "--rerank", "mmr:1") == plain
    varied = _items(invoke, ease_dir, "--user", "5", "-k", "6", "--rerank", "mmr:0.2")
    assert len(varied) == 6 and varied != plain
    model = load_model(ease_dir)
    vectors, why = item_text_vectors(model.items)
    assert vectors is not None, why
    assert model.item_map is not None

    def mean_similarity(items: list[str]) -> float:
        v = vectors[model.item_map.lookup(items)]
        v = v / np.linalg.norm(v, axis=1, keepdims=True)
        sims = v @ v.T
        return float(sims[np.triu_indices(len(items), 1)].mean())

    assert mean_similarity(varied) < mean_similarity(plain)


def test_a_typed_history_and_a_file_of_users_are_reranked_too(
    invoke: Invoke, ease_dir: Path, tmp_path: Path
) -> None:
    history = _items(invoke, ease_dir, "--history", "1,2,3", "-k", "5", "--rerank", "calibrated:1")
    assert len(history) == 5 and not {"1", "2", "3"} & set(history)
    users = tmp_path / "users.txt"
    users.write_text("3\n5\n")
    code, text = invoke(
        "recommend", ease_dir, "--users", users, "-k", "4", "--rerank", "calibrated:0.7",
        "--fields", "title",
    )  # fmt: skip
    assert code == 0, text
    csv = text[text.index("user_id,") :]
    frame = pd.read_csv(io.StringIO(csv), dtype={"user_id": str, "item_id": str})
    frame = frame[frame["user_id"].isin(["3", "5"])]
    assert list(frame.columns) == ["user_id", "rank", "item_id", "score", "title"]
    assert frame.groupby("user_id")["rank"].apply(list).tolist() == [[1, 2, 3, 4]] * 2
    alone = _items(invoke, ease_dir, "--user", "3", "-k", "4", "--rerank", "calibrated:0.7")
    assert frame[frame["user_id"] == "3"]["item_id"].tolist() == alone  # the same list


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("diverse:0.5", "unknown re-ranker"),
        ("mmr:1.5", "lambda must lie in [0, 1]"),
        ("calibrated:x", "LAMBDA must be a number"),
    ],
)
def test_a_bad_spec_is_a_one_line_error(
    invoke: Invoke, ease_dir: Path, spec: str, message: str
) -> None:
    code, text = invoke("recommend", ease_dir, "--user", "3", "--rerank", spec)
    assert code == 2 and message in text


def test_calibration_needs_genres(invoke: Invoke, ratings_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "no-items"
    code, text = invoke("train", "pop", "--data", ratings_dir / "interactions.csv", "--out", out)
    assert code == 0, text
    code, text = invoke("recommend", out, "--user", "3", "--rerank", "calibrated:0.5")
    assert code == 2 and "needs item genres" in text
