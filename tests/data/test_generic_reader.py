"""Generic CSV / TSV / Parquet / JSON-lines logs with a column mapping."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lmrec.data.dataset import Dataset
from lmrec.data.readers import ColumnMap, read_generic
from lmrec.errors import ConfigError, DataError

FRAME = pd.DataFrame(
    {
        "who": ["u1", "u2", "u1"],
        "what": ["i1", "i1", "i2"],
        "stars": [4.0, 2.0, 5.0],
        "when": ["2020-01-01T00:00:00Z", "2020-01-02", "1970-01-01T00:01:40+00:00"],
    }
)
CMAP = {"user": "who", "item": "what", "value": "stars", "timestamp": "when"}


def rows(ds: Dataset) -> list[tuple[str, str, float, int]]:
    f = ds.to_frame()
    return sorted(zip(f.user_id, f.item_id, f.value, f.timestamp, strict=True))


EXPECTED = [
    ("u1", "i1", 4.0, 1577836800),
    ("u1", "i2", 5.0, 100),
    ("u2", "i1", 2.0, 1577923200),
]


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".parquet", ".jsonl"])
def test_every_format_with_iso_timestamps(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"log{suffix}"
    if suffix == ".csv":
        FRAME.to_csv(path, index=False)
    elif suffix == ".tsv":
        FRAME.to_csv(path, index=False, sep="\t")
    elif suffix == ".parquet":
        FRAME.to_parquet(path)
    else:
        FRAME.to_json(path, orient="records", lines=True)
    ds = read_generic(path, columns=CMAP)
    assert rows(ds) == EXPECTED
    assert ds.explicit
    assert ds.name == "log"


def test_epoch_seconds_and_column_names_found_by_convention(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("userId,itemId,timestamp\n7,100,1600000000\n8,100,1600000001\n")
    ds = read_generic(path)
    assert rows(ds) == [("7", "100", 1.0, 1600000000), ("8", "100", 1.0, 1600000001)]
    assert not ds.explicit


@pytest.mark.parametrize("scale", [1, 1_000, 1_000_000, 1_000_000_000])
def test_epoch_milli_micro_and_nanoseconds_become_seconds(tmp_path: Path, scale: int) -> None:
    """Event logs from JavaScript or Kafka carry epoch milliseconds (or finer)."""
    path = tmp_path / "events.csv"
    path.write_text(
        f"user,item,ts\nu,a,{1600000000 * scale}\nu,b,{1600000002 * scale + scale // 2}\n"
    )
    ds = read_generic(path)
    assert sorted(ds.to_frame().timestamp) == [1600000000, 1600000002]


def test_ids_are_text(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("user_id,item_id\n007,1\n7,1\n")
    ds = read_generic(path)
    assert ds.n_users == 2  # "007" and "7" are different users


def test_parquet_native_timestamps(tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    pd.DataFrame(
        {
            "user_id": [1, 2],
            "item_id": [5, 6],
            "ts": pd.to_datetime(["2021-01-01", "2021-01-02"], utc=True),
        }
    ).to_parquet(path)
    ds = read_generic(path, columns={"timestamp": "ts"})
    assert sorted(ds.timestamps.tolist()) == [1609459200, 1609545600]
    assert list(ds.user_map.ids) == ["1", "2"]


def test_item_and_user_tables(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    FRAME.to_csv(log, index=False)
    items = tmp_path / "items.jsonl"
    items.write_text(
        "\n".join(
            json.dumps(r)
            for r in [
                {"sku": "i1", "name": "Red shoe", "brand": "A"},
                {"sku": "i2", "name": "Blue hat", "brand": "B"},
                {"sku": "i9", "name": "Never bought", "brand": "C"},
            ]
        )
    )
    users = tmp_path / "users.parquet"
    pd.DataFrame({"who": ["u1", "u2"], "country": ["FR", "DE"]}).to_parquet(users)
    ds = read_generic(
        log,
        columns={**CMAP, "item_key": "sku", "item_fields": ["name"]},
        items_path=items,
        users_path=users,
    )
    assert ds.n_items == 3
    assert list(ds.items.columns) == ["item_id", "name"]
    assert ds.items.set_index("item_id").loc["i9", "name"] == "Never bought"
    assert ds.users.set_index("user_id").loc["u2", "country"] == "DE"


def test_bad_timestamp_named(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("user_id,item_id,timestamp\n1,2,2020-01-01\n1,3,yesterday\n")
    with pytest.raises(DataError) as info:
        read_generic(path)
    assert "log.csv, line 3, field 'timestamp': 'yesterday' is not a timestamp" in str(info.value)
    ds = read_generic(path, on_bad_lines="skip")
    assert ds.dropped.counts == {"log.csv: bad value in 'timestamp'": 1}


def test_bad_json_line(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text(
        '{"user_id": 1, "item_id": 2}\n\n{"user_id": 1, "item_id": \n{"user_id": 2, "item_id": 2}\n'
    )
    with pytest.raises(DataError, match=r"log.jsonl, line 3: not a JSON object"):
        read_generic(path)
    ds = read_generic(path, on_bad_lines="skip")
    assert ds.n_interactions == 2
    assert ds.dropped.counts == {"log.jsonl: not a JSON object": 1}


def test_jsonl_bad_value_line(tmp_path: Path) -> None:
    path = tmp_path / "log.jsonl"
    path.write_text('{"u": 1, "i": 2, "r": 3}\n\n{"u": 1, "i": 3, "r": "high"}\n')
    with pytest.raises(DataError, match=r"line 3, field 'r': 'high' is not a number"):
        read_generic(path, columns={"user": "u", "item": "i", "value": "r"})


def test_parquet_bad_value_names_row(tmp_path: Path) -> None:
    path = tmp_path / "log.parquet"
    pd.DataFrame({"user_id": [1, 2], "item_id": [1, 1], "rating": ["4", "x"]}).to_parquet(path)
    with pytest.raises(DataError, match=r"log.parquet, field 'rating': row 2: 'x' is not"):
        read_generic(path)


def test_headerless_file_with_names(tmp_path: Path) -> None:
    path = tmp_path / "plays.txt"
    path.write_text("a|x|3\nb|x|1\n")
    ds = read_generic(
        path, columns={"names": ["user", "item", "plays"], "value": "plays", "sep": "|"}
    )
    assert rows(ds) == [("a", "x", 3.0, 0), ("b", "x", 1.0, 0)]


def test_cannot_tell_columns(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("a,b\n1,2\n")
    with pytest.raises(DataError, match=r"cannot tell which column holds the user"):
        read_generic(path)
    with pytest.raises(DataError, match=r"no column 'zzz' for the item"):
        read_generic(path, columns={"user": "a", "item": "zzz"})


def test_unknown_mapping_key() -> None:
    with pytest.raises(ConfigError, match="unknown column mapping key"):
        ColumnMap.of({"usr": "a"})


def test_missing_ids_are_dropped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_text("user_id,item_id\n1,2\n,2\n3,\n4,5\n")
    ds = read_generic(path)
    assert ds.n_interactions == 2
    assert ds.dropped.counts == {"missing user id": 1, "missing item id": 1}
    assert np.array_equal(ds.values, [1.0, 1.0])


def test_a_catalogue_may_hold_line_breaks_and_says_so(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("user_id,item_id\nu1,a\nu1,b\nu2,c\n")
    items = tmp_path / "items.csv"
    items.write_text('item_id,title,description\na,A,"two\nlines"\nb,B,one line\nc,C,x\n')
    ds = read_generic(log, items_path=items)
    assert ds.items.set_index("item_id").loc["a", "description"] == "two\nlines"
    assert "items.csv: 1 line breaks inside quoted values" in ds.dropped.notes
    # in the log itself a value spanning lines is a quote left open
    log.write_text('user_id,item_id\nu1,"a\nu1,b\nu2,c\n')
    with pytest.raises(DataError, match=r"log.csv, line 2: a quote opened on this line"):
        read_generic(log)
    ds = read_generic(log, on_bad_lines="skip")
    assert ds.n_interactions == 2
    assert ds.dropped.lines() == ["log.csv: unclosed quote: 1 (line 2)"]
