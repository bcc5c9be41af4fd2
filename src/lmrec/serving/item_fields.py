"""Item fields (title, genres, ...) in responses: `fields=title,genres` adds them to
every listed item, read from the answering model's item table (row i = item i, so a
lookup costs O(k), not a pass over the catalogue)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from fastapi.exceptions import RequestValidationError

from lmrec.serving.live import LiveModel


def parse_fields(text: str | None) -> list[str] | None:
    """`title,genres` -> ["title", "genres"]; None or empty -> None."""
    if text is None:
        return None
    names = [part.strip() for part in text.split(",") if part.strip()]
    return names or None


def field_names(live: LiveModel) -> list[str]:
    items = live.model.items
    return [] if items is None else [str(c) for c in items.columns if c != "item_id"]


def check_fields(live: LiveModel, fields: Sequence[str] | None, where: tuple[str, ...]) -> None:
    """422 naming the first field the model's item table lacks (and those it has)."""
    if not fields:
        return
    have = field_names(live)
    for name in fields:
        if name not in have:
            listed = ", ".join(have) or f"none: model '{live.name}' has no item table"
            raise RequestValidationError(
                [
                    {
                        "loc": where,
                        "msg": f"unknown item field {name!r} (available: {listed})",
                        "type": "value_error",
                    }
                ]
            )


def fields_of(live: LiveModel, item_ids: Sequence[str], fields: Sequence[str]) -> list[dict]:
    """One {field: value} per item id (values JSON-ready; missing values are None, and so
    are fields this model's table lacks: a cold-start model may answer with fewer)."""
    items = live.model.items
    assert live.model.item_map is not None
    rows: list[dict[str, Any]] = [dict.fromkeys(fields) for _ in item_ids]
    if items is None:
        return rows
    idx = live.model.item_map.lookup(item_ids, missing="mark")
    inside = (idx >= 0) & (idx < len(items))
    for name in fields:
        if name not in items.columns:
            continue
        column = items[name].to_numpy()
        for row, (i, ok) in enumerate(zip(idx, inside, strict=True)):
            rows[row][name] = json_value(column[i]) if ok else None
    return rows


def row_fields(items: pd.DataFrame, index: int) -> dict[str, Any]:
    """Every field of one row of an item table."""
    row = items.iloc[index]
    return {str(k): json_value(v) for k, v in row.items() if k != "item_id"}


def json_value(value: Any) -> Any:
    """A table cell as JSON: NaN/NA -> None, NumPy scalars -> Python, times -> ISO text."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    if isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, list | tuple | np.ndarray):
        return [json_value(v) for v in value]
    return str(value)
