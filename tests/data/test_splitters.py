"""Splitters: determinism, disjointness, ratios, and each protocol's promise."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lmrec.data.dataset import Dataset, from_frame
from lmrec.data.splitters import (
    Split,
    cold_items_split,
    cold_users_split,
    leave_one_out,
    make_split,
    random_split,
    split_from_files,
    temporal_split,
)
from lmrec.data.synthetic import generate
from lmrec.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return generate(300, 120, 6000, seed=3)


def keys(part: Dataset) -> np.ndarray:
    return part.users_idx.astype(np.int64) * part.n_items + part.items_idx


def assert_partition(ds: Dataset, split: Split) -> None:
    """Every interaction in exactly one part, maps shared with the full dataset."""
    parts = [split.train, split.valid, split.test]
    assert sum(len(p) for p in parts) == len(ds)
    all_keys = np.concatenate([keys(p) for p in parts])
    assert np.array_equal(np.sort(all_keys), np.sort(keys(ds)))
    for p in parts:
        assert p.item_map is ds.item_map and p.user_map is ds.user_map
        assert p.items is ds.items


def same(a: Split, b: Split) -> bool:
    return all(
        np.array_equal(keys(x), keys(y))
        for x, y in ((a.train, b.train), (a.valid, b.valid), (a.test, b.test))
    )


def test_random_split_per_user_ratios_and_determinism(ds: Dataset) -> None:
    split = random_split(ds, (0.8, 0.1, 0.1), seed=7)
    assert_partition(ds, split)
    assert same(split, random_split(ds, (0.8, 0.1, 0.1), seed=7))
    assert not same(split, random_split(ds, (0.8, 0.1, 0.1), seed=8))
    assert split.protocol == "ratio"
    # Per user: floor(n * 0.1) rows each in test and valid; small users still give one
    # row to test from 2 rows on, and one to valid from 3 rows on.
    n = ds.user_counts()
    base = np.floor(n * 0.1)
    assert np.array_equal(split.test.user_counts(), np.maximum(base, n >= 2))
    assert np.array_equal(split.valid.user_counts(), np.maximum(base, n >= 3))
    assert (split.train.user_counts() >= 1).all()


def test_random_split_small_users() -> None:
    rows = [("a", "x"), ("b", "x"), ("b", "y"), ("c", "x"), ("c", "y"), ("c", "z")]
    tiny = from_frame(pd.DataFrame(rows, columns=["user_id", "item_id"]))
    split = random_split(tiny, seed=0)
    counts = {
        name: dict(zip(tiny.user_map.ids, getattr(split, name).user_counts(), strict=True))
        for name in ("train", "valid", "test")
    }
    assert counts["train"] == {"a": 1, "b": 1, "c": 1}
    assert counts["valid"] == {"a": 0, "b": 0, "c": 1}
    assert counts["test"] == {"a": 0, "b": 1, "c": 1}


def test_bad_ratios(ds: Dataset) -> None:
    with pytest.raises(ConfigError, match="ratios must be"):
        random_split(ds, (0.5, 0.2, 0.2))


def test_temporal_split_is_global_by_time(ds: Dataset) -> None:
    split = temporal_split(ds, (0.7, 0.1, 0.2))
    assert_partition(ds, split)
    assert split.sizes() == {"train": 4200, "valid": 600, "test": 1200}
    assert split.train.timestamps.max() <= split.valid.timestamps.min()
    assert split.valid.timestamps.max() <= split.test.timestamps.min()


def test_leave_one_out_picks_the_latest() -> None:
    rows = [
        ("a", "x", 30), ("a", "y", 10), ("a", "z", 20), ("a", "w", 5),  # latest x, then z
        ("b", "x", 1), ("b", "y", 2),  # two rows: train + test
        ("c", "x", 9),  # one row: train only
    ]  # fmt: skip
    tiny = from_frame(pd.DataFrame(rows, columns=["user_id", "item_id", "timestamp"]))
    split = leave_one_out(tiny)
    assert_partition(tiny, split)

    def pairs(part: Dataset) -> list[tuple[str, str]]:
        f = part.to_frame()
        return sorted(zip(f.user_id, f.item_id, strict=True))

    assert pairs(split.test) == [("a", "x"), ("b", "y")]
    assert pairs(split.valid) == [("a", "z")]
    assert pairs(split.train) == [("a", "w"), ("a", "y"), ("b", "x"), ("c", "x")]
    assert len(leave_one_out(tiny, valid=False).valid) == 0


def test_time_protocols_need_timestamps() -> None:
    no_time = from_frame(pd.DataFrame({"user_id": [1, 2], "item_id": [1, 1]}))
    with pytest.raises(ConfigError, match="no timestamps"):
        leave_one_out(no_time)
    with pytest.raises(ConfigError, match="no timestamps"):
        temporal_split(no_time)


def test_cold_items_have_no_training_interactions(ds: Dataset) -> None:
    split = cold_items_split(ds, fraction=0.2, seed=1)
    assert_partition(ds, split)
    train_items = set(np.unique(split.train.items_idx))
    valid_items = set(np.unique(split.valid.items_idx))
    test_items = set(np.unique(split.test.items_idx))
    assert not train_items & (valid_items | test_items)
    assert not valid_items & test_items
    assert len(valid_items | test_items) == round(0.2 * 120)
    assert same(split, cold_items_split(ds, fraction=0.2, seed=1))


def test_cold_users_keep_at_most_n_training_rows(ds: Dataset) -> None:
    split = cold_users_split(ds, fraction=0.2, max_train=2, seed=4)
    assert_partition(ds, split)
    held = np.flatnonzero(split.test.user_counts() + split.valid.user_counts())
    assert (split.train.user_counts()[held] <= 2).all()
    assert (split.train.user_counts()[held] == 2).all()  # everyone eligible had > 2
    assert len(held) == round(0.2 * (ds.user_counts() > 2).sum())
    # Users not held out train on everything.
    others = np.setdiff1d(np.arange(ds.n_users), held)
    assert np.array_equal(split.train.user_counts()[others], ds.user_counts()[others])
    # Valid and test users are different people.
    assert not set(np.unique(split.valid.users_idx)) & set(np.unique(split.test.users_idx))


def test_make_split_dispatch(ds: Dataset) -> None:
    assert same(make_split(ds, "ratio", seed=2), random_split(ds, seed=2))
    assert make_split(ds, "loo").protocol == "loo"
    assert make_split(ds, "temporal").protocol == "temporal"
    assert make_split(ds, "cold-items", seed=1, fraction=0.3).protocol == "cold-items"
    assert make_split(ds, "cold-users", seed=1, max_train=1).protocol == "cold-users"
    with pytest.raises(ConfigError, match="unknown split protocol 'nope'"):
        make_split(ds, "nope")


# ---- split files --------------------------------------------------------------------------
@pytest.fixture
def rated() -> Dataset:
    df = pd.DataFrame(
        {
            "user_id": ["u1", "u1", "u2", "u2"],
            "item_id": ["a", "b", "a", "c"],
            "value": [4.0, 2.0, 5.0, 3.0],
            "timestamp": [10, 20, 30, 40],
        }
    )
    return from_frame(df)


def test_split_from_files(tmp_path: Path, rated: Dataset) -> None:
    (tmp_path / "train.csv").write_text("user_id,item_id,note\nu1,a,x\nu2,a,y\n")
    (tmp_path / "valid.csv").write_text("user_id,item_id\n")
    (tmp_path / "test.csv").write_text(
        "user_id,item_id,rating,timestamp\nu1,b,1.5,99\nu2,c,3,2021-01-01\n"
    )
    split = split_from_files(
        rated, tmp_path / "train.csv", tmp_path / "valid.csv", tmp_path / "test.csv"
    )
    assert split.sizes() == {"train": 2, "valid": 0, "test": 2}
    assert split.train.item_map is rated.item_map
    train = split.train.to_frame()
    assert train.values.tolist() == [["u1", "a", 4.0, 10], ["u2", "a", 5.0, 30]]  # from dataset
    test = split.test.to_frame()
    assert test.values.tolist() == [["u1", "b", 1.5, 99], ["u2", "c", 3.0, 1609459200]]


def test_split_file_unknown_id(tmp_path: Path, rated: Dataset) -> None:
    (tmp_path / "train.csv").write_text("user_id,item_id\nu1,a\n\nu9,a\nu1,zz\n")
    (tmp_path / "test.csv").write_text("user_id,item_id\nu2,c\n")
    with pytest.raises(DataError) as info:
        split_from_files(rated, tmp_path / "train.csv", None, tmp_path / "test.csv")
    assert "train.csv, line 4, field 'user_id': unknown user id 'u9'" in str(info.value)
    split = split_from_files(
        rated, tmp_path / "train.csv", None, tmp_path / "test.csv", on_bad_lines="skip"
    )
    assert split.sizes() == {"train": 1, "valid": 0, "test": 1}
    assert split.dropped.counts == {
        "train.csv: unknown user id": 1,
        "train.csv: unknown item id": 1,
    }


def test_split_file_missing(tmp_path: Path, rated: Dataset) -> None:
    with pytest.raises(DataError, match="split file not found"):
        split_from_files(rated, tmp_path / "nope.csv", None, tmp_path / "nope.csv")
