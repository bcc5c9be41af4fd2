"""Which item-table columns describe shared properties (used to explain a list)."""

from __future__ import annotations

import pandas as pd

#: an attribute column is one whose values repeat (genre, year); ids and titles do not
_MAX_DISTINCT_SHARE = 0.5


def attribute_columns(items: pd.DataFrame | None) -> list[str]:
    """Columns of an item table that describe shared properties (for explanations)."""
    if items is None or items.empty:
        return []
    n = len(items)
    out = []
    for col in items.columns:
        if col in ("item_id", "text"):
            continue
        values = items[col].dropna().astype(str).str.split("|").explode()
        if len(values) and values.nunique() <= max(20, _MAX_DISTINCT_SHARE * n):
            out.append(str(col))
    return out
