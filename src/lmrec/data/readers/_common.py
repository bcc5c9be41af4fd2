"""Pieces every reader shares: building the Dataset, title/year splitting, encodings."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from lmrec.data.cleaning import drop_missing_ids
from lmrec.data.dataset import Dataset, DropReport, from_frame

# "Toy Story (1995)" -> ("Toy Story", 1995); also "Babylon 5 (1994-1998)" style ranges.
_TITLE_YEAR = r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:[-–]\d{0,4})?\)\s*$"


def build_dataset(
    df: pd.DataFrame,
    *,
    items: pd.DataFrame | None,
    users: pd.DataFrame | None,
    name: str,
    report: DropReport,
    explicit: bool | None = None,
) -> Dataset:
    """Interactions frame (user_id, item_id[, value, timestamp]) -> Dataset, dropping and
    counting rows without ids."""
    df = drop_missing_ids(df, report)
    if items is not None:
        items = items.loc[items["item_id"].notna()]
    if users is not None:
        users = users.loc[users["user_id"].notna()]
    return from_frame(df, items=items, users=users, name=name, explicit=explicit, dropped=report)


def split_title_year(titles: pd.Series) -> tuple[pd.Series, pd.Series]:
    """MovieLens titles carry the year in parentheses; return (title, year as Int64)."""
    titles = titles.astype("str").str.strip()
    parts = titles.str.extract(_TITLE_YEAR)
    has_year = parts["title"].notna()
    title = parts["title"].where(has_year, titles)
    year = pd.to_numeric(parts["year"], errors="coerce").astype("Int64")
    return title, year


def guess_encoding(path: Path) -> str:
    """UTF-8 when the bytes decode as UTF-8, else Latin-1 (older MovieLens files).
    Only used for catalogue-sized files."""
    try:
        path.read_bytes().decode("utf-8")
    except UnicodeDecodeError:
        return "latin-1"
    return "utf-8"
