"""`lmrec recommend MODEL_DIR --users FILE`: lists for many users in one run."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import lmrec
from lmrec.cli.main import app


def run(*args: object) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture(scope="module")
def model_dir(ratings_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("models") / "ease"
    code, _, err = run("train", "ease", "--data", ratings_dir, "--protocol", "none", "--out", out)
    assert code == 0, err
    return out


def test_lists_for_every_user_in_a_file(model_dir: Path, tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text("3\n7\n\nnobody\n3\n12\n")
    code, out, err = run("recommend", model_dir, "--users", users, "-k", "4", "--fields", "title")
    assert code == 0, err
    frame = pd.read_csv(io.StringIO(out), dtype={"user_id": str, "item_id": str})
    assert list(frame.columns) == ["user_id", "rank", "item_id", "score", "title"]
    assert list(dict.fromkeys(frame["user_id"])) == ["3", "7", "12"]
    model = lmrec.load_model(model_dir)
    for user in ("3", "7", "12"):
        single = model.recommend(lmrec.Query(user_id=user, k=4))
        assert frame[frame["user_id"] == user]["item_id"].tolist() == single.item_ids
    assert frame["title"].notna().all()
    # nothing is dropped unseen: the unknown user and the repeated id are reported
    assert "3 users, 12 rows" in err
    assert "1 repeated ids answered once" in err
    assert "1 users unknown to the model left out (nobody)" in err


def test_a_table_with_a_user_id_column_to_parquet(model_dir: Path, tmp_path: Path) -> None:
    users = tmp_path / "users.csv"
    users.write_text("segment,user_id\na,5\nb,9\n")
    out = tmp_path / "lists.parquet"
    code, _, err = run("recommend", model_dir, "--users", users, "-k", "2", "--out", out)
    assert code == 0, err
    written = pd.read_parquet(out)
    assert written["user_id"].tolist() == ["5", "5", "9", "9"]
    assert written["rank"].tolist() == [1, 2, 1, 2]


def test_bad_user_files_are_one_line(model_dir: Path, tmp_path: Path) -> None:
    two = tmp_path / "two.csv"
    two.write_text("a,b\n1,2\n")
    code, _, err = run("recommend", model_dir, "--users", two)
    assert code == 2 and "two.csv, line 1: 2 columns and none named user_id" in err
    code, _, err = run("recommend", model_dir, "--users", tmp_path / "missing.txt")
    assert code == 2 and "missing.txt: user file not found" in err
    ids = tmp_path / "ids.txt"
    ids.write_text("3\n")
    code, _, err = run("recommend", model_dir, "--users", ids, "--fields", "titel")
    assert code == 2 and "unknown item field 'titel'" in err
    code, _, err = run("recommend", model_dir, "--users", ids, "--user", "3")
    assert code == 2 and "give --users FILE alone" in err
