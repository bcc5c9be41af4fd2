"""Adding rows to a fitted model's catalogue: the steps every text-reading model shares."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from lmrec.encoders.text import ItemTextTemplate, generic_template
from lmrec.errors import DataError


def upsert_items(model: Any, items: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Extend `model.item_map` and `model.items` with new rows (known ids are updated).

    Returns the de-duplicated rows (ids as strings, last row per id wins), each row's
    item index, and which rows were already in the catalogue. The caller then grows its
    own item arrays to `len(model.item_map)`.
    """
    if "item_id" not in items.columns:
        raise DataError("new items need an 'item_id' column", field="item_id")
    frame = items.assign(item_id=items["item_id"].astype(str))
    frame = frame.drop_duplicates("item_id", keep="last").reset_index(drop=True)
    known = model.item_map.lookup(frame["item_id"], missing="mark") >= 0
    model.item_map = model.item_map.extend(frame.loc[~known, "item_id"])
    model.items = merge_item_rows(model.items, frame, model.item_map.ids)
    return frame, model.item_map.lookup(frame["item_id"]), known


def new_item_texts(
    template: ItemTextTemplate, table: pd.DataFrame, frame: pd.DataFrame, positions: np.ndarray
) -> list[str]:
    """Text of the upserted rows through the model's template; rows the template cannot
    read (e.g. only a free 'text' column) get their text from whatever text columns
    they have."""
    texts = template.render(table.iloc[positions].reset_index(drop=True))
    fallback = ItemTextTemplate(generic_template(frame, sentence_sep=". ", end="."))
    return [t or f for t, f in zip(texts, fallback.render(frame), strict=True)]


def merge_item_rows(
    table: pd.DataFrame | None, rows: pd.DataFrame, all_ids: np.ndarray
) -> pd.DataFrame:
    """The item table with `rows` upserted, one row per id of `all_ids` in index order.
    Values missing from `rows` keep what the table had."""
    base = (
        table.assign(item_id=table["item_id"].astype(str)).set_index("item_id")
        if table is not None
        else pd.DataFrame(index=pd.Index([], name="item_id"))
    )
    base = base.reindex(pd.Index(all_ids, name="item_id"))
    update = rows.set_index("item_id")
    for column in update.columns:
        values = update[column]
        values = values[values.notna()]
        if column not in base.columns:
            base[column] = pd.Series(pd.NA, index=base.index, dtype=object)
        try:
            base.loc[values.index, column] = values
        except (TypeError, ValueError):  # e.g. text into an integer column
            base[column] = base[column].astype(object)
            base.loc[values.index, column] = values
    return base.reset_index()
