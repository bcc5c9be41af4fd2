"""load_dataset: names, directories and files, format detection, cleaning options."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lmrec.data import detect_format, load_dataset
from lmrec.data.fetch import MARKER
from lmrec.errors import DataError


def test_detect_format(tmp_path: Path) -> None:
    cases = {
        "a": ["u.data"],
        "b": ["ratings.dat", "movies.dat"],
        "c": ["ratings.csv", "movies.csv"],
        "d": ["d.inter"],
        "e": ["interactions.parquet", "items.csv"],
    }
    for name, files in cases.items():
        (tmp_path / name).mkdir()
        for f in files:
            (tmp_path / name / f).write_text("x\n")
    assert [detect_format(tmp_path / n) for n in cases] == [
        "ml-100k",
        "movielens-dat",
        "movielens-csv",
        "recbole",
        "generic",
    ]
    assert detect_format(tmp_path / "d" / "d.inter") == "recbole"
    assert detect_format(tmp_path / "c" / "ratings.csv") == "generic"  # a file: read as a log
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="cannot tell the format of this directory"):
        detect_format(tmp_path / "empty")
    with pytest.raises(DataError, match=r"unsupported file type '\.xlsx'"):
        detect_format(tmp_path / "log.xlsx")


def test_generic_directory_with_items(tmp_path: Path) -> None:
    (tmp_path / "interactions.csv").write_text(
        "user_id,item_id,rating\n1,a,5\n1,b,2\n2,a,4\n1,a,3\n"
    )
    (tmp_path / "items.csv").write_text("item_id,title\na,Apple\nb,Banana\nc,Cherry\n")
    ds = load_dataset(tmp_path)
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (2, 3, 3)
    assert ds.dropped.counts == {"duplicate (user, item), kept last": 1}
    assert ds.items.set_index("item_id").loc["c", "title"] == "Cherry"
    ds = load_dataset(tmp_path, implicit_threshold=4, dedupe="max")
    assert ds.n_interactions == 2 and not ds.explicit
    assert ds.dropped.counts == {"duplicate (user, item), kept max": 1, "value below 4": 1}


def test_registered_name_uses_the_verified_cache(tmp_path: Path) -> None:
    # A cache directory holding a marker is used as is: nothing is downloaded.
    target = tmp_path / "datasets" / "ml-100k"
    target.mkdir(parents=True)
    (target / "ml-100k.inter").write_text(
        "user_id:token\titem_id:token\trating:float\ttimestamp:float\n1\t2\t3\t4\n"
    )
    (target / MARKER).write_text(json.dumps({"source": "test"}))
    ds = load_dataset("ml-100k", home=tmp_path)
    assert ds.name == "ml-100k"
    assert ds.n_interactions == 1


def test_unknown_path(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no such file or directory, and not a dataset name"):
        load_dataset(tmp_path / "nope")


def test_bad_on_bad_lines(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="on_bad_lines must be"):
        load_dataset(tmp_path, on_bad_lines="ignore")  # type: ignore[arg-type]


def test_k_core_option(tmp_path: Path) -> None:
    (tmp_path / "log.csv").write_text("user_id,item_id\n1,a\n1,b\n2,a\n")
    ds = load_dataset(tmp_path / "log.csv", min_user_interactions=2)
    assert list(ds.user_map.ids) == ["1"]
    assert ds.dropped.total == 1
