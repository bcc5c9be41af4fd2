"""Cleaning steps count every row they drop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lmrec.data.cleaning import clean, compact, deduplicate, k_core, to_implicit
from lmrec.data.dataset import Dataset, from_frame
from lmrec.errors import ConfigError


def make(rows: list[tuple[str, str, float, int]], items: list[str] | None = None) -> Dataset:
    df = pd.DataFrame(rows, columns=["user_id", "item_id", "value", "timestamp"])
    table = pd.DataFrame({"item_id": items, "title": [f"t{i}" for i in items]}) if items else None
    return from_frame(df, items=table, explicit=True)


def triples(ds: Dataset) -> list[tuple[str, str, float, int]]:
    f = ds.to_frame()
    return sorted(zip(f.user_id, f.item_id, f.value.astype(float), f.timestamp, strict=True))


DUPS = [
    ("a", "x", 3.0, 10),
    ("a", "x", 5.0, 5),  # higher value, older
    ("a", "x", 1.0, 20),  # latest
    ("b", "x", 2.0, 1),
    ("b", "y", 4.0, 2),
    ("b", "y", 4.0, 2),  # exact repeat: file order decides, the later one is kept
]


@pytest.mark.parametrize(
    ("policy", "ax"),
    [("last", (1.0, 20)), ("first", (5.0, 5)), ("max", (5.0, 5)), ("sum", (9.0, 20))],
)
def test_deduplicate_policies(policy: str, ax: tuple[float, int]) -> None:
    ds = deduplicate(make(DUPS), policy)  # type: ignore[arg-type]
    assert ds.n_interactions == 3
    got = {(u, i): (v, t) for u, i, v, t in triples(ds)}
    assert got[("a", "x")] == ax
    assert got[("b", "x")] == (2.0, 1)
    assert got[("b", "y")] == ((8.0, 2) if policy == "sum" else (4.0, 2))
    reason = "values summed" if policy == "sum" else f"kept {policy}"
    assert ds.dropped.counts == {f"duplicate (user, item), {reason}": 3}
    # merged rather than dropped; only a sum keeps every row's value
    assert ds.dropped.discarded == {}
    assert ds.dropped.lost == (0 if policy == "sum" else 3)


def test_deduplicate_no_duplicates_is_identity() -> None:
    ds = make([("a", "x", 1.0, 1), ("a", "y", 2.0, 2)])
    assert deduplicate(ds) is ds


def test_deduplicate_unknown_policy() -> None:
    with pytest.raises(ConfigError, match="dedupe policy"):
        deduplicate(make(DUPS), "median")  # type: ignore[arg-type]


def test_to_implicit_threshold() -> None:
    ds = to_implicit(make([("a", "x", 4.0, 1), ("a", "y", 3.5, 2), ("b", "x", 5.0, 3)]), 4)
    assert triples(ds) == [("a", "x", 1.0, 1), ("b", "x", 1.0, 3)]
    assert not ds.explicit
    assert ds.dropped.counts == {"value below 4": 1}


def test_k_core_is_iterative() -> None:
    # u1 and u2 each rate i1, i2; u3 rates i1, i3. With k=2: i3 has 1 -> dropped, then u3 has
    # 1 -> dropped; i1 then has 2 and survives. A single pass would keep u3's i1 row.
    rows = [
        ("u1", "i1", 1.0, 1), ("u1", "i2", 1.0, 2),
        ("u2", "i1", 1.0, 3), ("u2", "i2", 1.0, 4),
        ("u3", "i1", 1.0, 5), ("u3", "i3", 1.0, 6),
    ]  # fmt: skip
    ds = k_core(make(rows, items=["i1", "i2", "i3", "i4"]), min_user=2, min_item=2)
    assert triples(ds) == sorted(r for r in rows if r[0] != "u3")
    assert list(ds.user_map.ids) == ["u1", "u2"]
    assert list(ds.item_map.ids) == ["i1", "i2"]  # catalogue-only i4 and i3 gone
    assert ds.items["title"].tolist() == ["ti1", "ti2"]  # table follows the map
    assert ds.dropped.counts == {"k-core filter (users >= 2, items >= 2)": 2}


def test_compact_renumbers_indices_consistently() -> None:
    ds = make([("a", "x", 1.0, 1), ("b", "y", 1.0, 2), ("c", "x", 1.0, 3)])
    sub = compact(ds.subset(np.array([True, False, True])))
    assert sub.n_users == 2 and sub.n_items == 1
    assert triples(sub) == [("a", "x", 1.0, 1), ("c", "x", 1.0, 3)]


def test_clean_counts_each_reason() -> None:
    rows = [*DUPS, ("c", "z", 2.0, 9)]
    ds = clean(make(rows), dedupe="last", implicit_threshold=2.0, min_user_interactions=2)
    # dedupe drops 3 rows, the threshold drops a-x (1.0), the k-core drops c's only row.
    assert ds.dropped.counts["duplicate (user, item), kept last"] == 3
    assert ds.dropped.counts["value below 2"] == 1
    assert ds.dropped.counts["k-core filter (users >= 2, items >= 0)"] == 1
    assert triples(ds) == [("b", "x", 1.0, 1), ("b", "y", 1.0, 2)]
    assert ds.dropped.total == 5 == len(rows) - ds.n_interactions


@pytest.mark.parametrize("policy", ["last", "first", "max", "sum"])
def test_deduplicate_matches_a_pandas_reference(policy: str) -> None:
    rng = np.random.default_rng(0)
    n = 2000
    df = pd.DataFrame(
        {
            "user_id": rng.integers(0, 30, n),
            "item_id": rng.integers(0, 20, n),
            "value": rng.integers(1, 6, n).astype(float),
            "timestamp": rng.integers(0, 50, n),
        }
    )
    ds = deduplicate(from_frame(df, explicit=True), policy)  # type: ignore[arg-type]
    ordered = df.assign(pos=np.arange(n))
    if policy == "max":
        ordered = ordered.sort_values(["value", "timestamp", "pos"])
    else:
        ordered = ordered.sort_values(["timestamp", "pos"])
    groups = ordered.groupby(["user_id", "item_id"])
    expected = (groups.head(1) if policy == "first" else groups.tail(1)).copy()
    if policy == "sum":
        sums = df.groupby(["user_id", "item_id"])["value"].sum()
        pairs = list(zip(expected.user_id, expected.item_id, strict=True))
        expected["value"] = sums.loc[pairs].to_numpy()
    want = sorted(
        (str(int(u)), str(int(i)), float(v), int(t))
        for u, i, v, t in expected[["user_id", "item_id", "value", "timestamp"]].to_numpy()
    )
    assert triples(ds) == want
    assert ds.dropped.total == n - len(want)
