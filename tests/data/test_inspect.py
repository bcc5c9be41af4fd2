"""inspect_dataset on a dataset with known numbers."""

from __future__ import annotations

import json

import pandas as pd

from lmrec.data.cleaning import deduplicate
from lmrec.data.dataset import from_frame
from lmrec.data.inspect import inspect_dataset


def test_report_numbers() -> None:
    df = pd.DataFrame(
        {
            "user_id": ["a", "a", "a", "b", "b", "b"],
            "item_id": ["x", "y", "z", "x", "x", "y"],
            "value": [5.0, 3.0, 4.0, 1.0, 2.0, 5.0],
            "timestamp": [86400, 2 * 86400, 3 * 86400, 4 * 86400, 5 * 86400, 11 * 86400],
        }
    )
    items = pd.DataFrame({"item_id": ["x", "y", "z", "w"], "title": ["X", "Y", "Z", "W"]})
    ds = deduplicate(from_frame(df, items=items))  # b-x twice: one dropped
    report = inspect_dataset(ds)
    assert report["users"] == 2 and report["items"] == 4 and report["interactions"] == 5
    assert report["items_with_interactions"] == 3
    assert report["density"] == 5 / 8
    assert report["feedback"] == "explicit"
    assert report["user_activity"]["min"] == 2 and report["user_activity"]["max"] == 3
    assert report["user_activity"]["median"] == 2.5
    assert report["item_popularity"]["max"] == 2
    assert report["time_range"] == {"first": "1970-01-02", "last": "1970-01-12", "days": 10.0}
    assert report["values"]["counts"] == {"2": 1, "3": 1, "4": 1, "5": 2}
    assert report["item_columns"] == ["item_id", "title"]
    assert report["merged"] == {"duplicate (user, item), kept last": 1}
    assert report["dropped"] == {}
    json.dumps(report)  # plain data


def test_implicit_without_time() -> None:
    ds = from_frame(pd.DataFrame({"user_id": [1, 2], "item_id": [1, 1]}))
    report = inspect_dataset(ds)
    assert report["feedback"] == "implicit"
    assert report["time_range"] is None
    assert report["values"]["counts"] == {"1": 2}
