"""`lmrec recommend-all MODEL_DIR --out recs.parquet`: every user's list, on Ray Data when
Ray is installed and in one process otherwise; the lists are those of `recommend`."""

from __future__ import annotations

import sys
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
    out = tmp_path_factory.mktemp("models") / "itemknn"
    code, _, err = run("train", "itemknn", "--data", ratings_dir, "--out", out)
    assert code == 0, err
    return out


def assert_single_requests_agree(model_dir: Path, written: pd.DataFrame, k: int) -> None:
    """Every user the model knows, each list exactly what one `recommend` request gives."""
    model = lmrec.load_model(model_dir)
    assert model.user_map is not None
    users = [str(u) for u in model.user_map.ids]
    assert list(dict.fromkeys(written["user_id"])) == users
    for user, rows in written.groupby("user_id", sort=False):
        single = model.recommend(lmrec.Query(user_id=user, k=k))
        assert rows["item_id"].tolist() == single.item_ids
        assert rows["rank"].tolist() == list(range(1, len(single) + 1))
        assert rows["score"].tolist() == pytest.approx(single.scores, rel=1e-6)


def test_one_process_gives_every_users_list(model_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "recs.parquet"
    code, _, err = run(
        "recommend-all", model_dir, "--out", out, "-k", "4", "--local", "--block-users", "7"
    )
    assert code == 0, err
    written = pd.read_parquet(out)
    assert list(written.columns) == ["user_id", "rank", "item_id", "score"]
    assert_single_requests_agree(model_dir, written, 4)
    assert "one process" in err and f"{written['user_id'].nunique()} users" in err
    assert not (tmp_path / "recs.parquet.partial").exists()


def test_without_ray_it_runs_in_one_process_and_says_so(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the ray extra were not installed
    out = tmp_path / "recs.parquet"
    code, _, err = run("recommend-all", model_dir, "--out", out, "-k", "3")
    assert code == 0, err
    assert "pip install 'lmrec[ray]'" in err
    assert_single_requests_agree(model_dir, pd.read_parquet(out), 3)
    code, _, err = run("recommend-all", model_dir, "--out", out, "--ray-address", "127.0.0.1:6379")
    assert code == 2 and "needs Ray, which is not installed" in err


def test_bad_options_are_one_line(model_dir: Path, tmp_path: Path) -> None:
    code, _, err = run("recommend-all", model_dir, "--out", tmp_path / "recs.csv", "--local")
    assert code == 2 and "name it *.parquet" in err
    code, _, err = run("recommend-all", tmp_path / "nothing", "--out", tmp_path / "r.parquet")
    assert code == 2 and "nothing" in err


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_ray_data_blocks_give_every_users_list(model_dir: Path, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    out = tmp_path / "recs.parquet"
    code, _, err = run(
        "recommend-all", model_dir, "--out", out, "-k", "5", "--workers", "2",
        "--block-users", "16",
    )  # fmt: skip
    assert code == 0, err
    assert "Ray, 2 workers" in err
    assert_single_requests_agree(model_dir, pd.read_parquet(out), 5)
