"""Cleaning steps over interactions. Each returns a new Dataset and counts every row it
removes in the DropReport, by reason, so nothing disappears silently."""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np
import pandas as pd

from lmrec.data.dataset import Dataset, DropReport
from lmrec.data.idmap import IdMap
from lmrec.errors import ConfigError

DedupePolicy = Literal["last", "first", "max", "sum"]
DEDUPE_POLICIES = ("last", "first", "max", "sum")


def drop_missing_ids(
    df: pd.DataFrame, report: DropReport, user: str = "user_id", item: str = "item_id"
) -> pd.DataFrame:
    """Rows without a user or item id cannot be placed anywhere: drop and count them."""
    no_user = _missing(df[user])
    no_item = _missing(df[item]) & ~no_user
    report.add("missing user id", int(no_user.sum()))
    report.add("missing item id", int(no_item.sum()))
    if no_user.any() or no_item.any():
        df = df.loc[~(no_user | no_item)].reset_index(drop=True)
    for col in (user, item):
        if df[col].dtype == "Int64":  # no missing values left: plain integers factorize fast
            df[col] = df[col].astype(np.int64)
    return df


def _missing(s: pd.Series) -> np.ndarray:
    missing = s.isna().to_numpy()
    if not pd.api.types.is_numeric_dtype(s.dtype):
        blank = (s.astype("str").str.strip() == "").to_numpy(dtype=bool, na_value=True)
        missing = missing | blank
    return missing


def deduplicate(ds: Dataset, policy: DedupePolicy = "last") -> Dataset:
    """One row per (user, item). 'last' keeps the latest row (by timestamp, then file
    order), 'first' the earliest; 'max' keeps the row with the highest value; 'sum' adds
    values up (e.g. play counts or event weights) and keeps the latest timestamp."""
    if policy not in DEDUPE_POLICIES:
        raise ConfigError(f"dedupe policy must be one of {DEDUPE_POLICIES}, not {policy!r}")
    n = ds.n_interactions
    if n == 0:
        return ds
    key = ds.users_idx.astype(np.int64) * max(ds.n_items, 1) + ds.items_idx
    order = np.argsort(key)
    sorted_key = key[order]
    repeat = sorted_key[1:] == sorted_key[:-1]
    if not repeat.any():  # the common case costs one sort
        return ds
    # Only rows of repeated pairs need the full ordering (by key, time, file position).
    in_group = np.zeros(n, dtype=bool)
    in_group[1:] |= repeat
    in_group[:-1] |= repeat
    rows = order[in_group]
    group_key = sorted_key[in_group]
    if policy == "max":
        sub = np.lexsort((rows, ds.timestamps[rows], ds.values[rows], group_key))
    else:
        sub = np.lexsort((rows, ds.timestamps[rows], group_key))
    rows, group_key = rows[sub], group_key[sub]
    group_end = np.r_[group_key[1:] != group_key[:-1], True]
    if policy == "first":  # the first row of each group instead of the last
        group_end = np.r_[True, group_key[1:] != group_key[:-1]]
    values = ds.values
    if policy == "sum":
        starts = np.flatnonzero(np.r_[True, group_end[:-1]])
        values = ds.values.copy()
        values[rows[group_end]] = np.add.reduceat(ds.values[rows].astype(np.float64), starts)
    keep = np.concatenate([order[~in_group], rows[group_end]])
    keep.sort()  # keep the original row order
    n_dup = n - len(keep)
    out = replace(ds, values=values).subset(keep)
    reason = (
        "duplicate (user, item), values summed"
        if policy == "sum"
        else (f"duplicate (user, item), kept {policy}")
    )
    return _with_drops(out, ds.dropped, reason, n_dup, merged=True, lossless=policy == "sum")


def to_implicit(ds: Dataset, threshold: float) -> Dataset:
    """Explicit ratings to implicit feedback: rows with value >= threshold become 1.0, the
    rest are dropped and counted."""
    keep = ds.values >= threshold
    out = ds.subset(keep)
    out = replace(out, values=np.ones(out.n_interactions, dtype=np.float32), explicit=False)
    return _with_drops(out, ds.dropped, f"value below {threshold:g}", int((~keep).sum()))


def k_core(ds: Dataset, min_user: int = 0, min_item: int = 0) -> Dataset:
    """Repeatedly remove users with fewer than `min_user` and items with fewer than
    `min_item` interactions until every one left has enough.

    Users and items left without interactions are removed from the maps too (a k-core is
    asked for to get a dense benchmark), so indices are renumbered.
    """
    if min_user <= 1 and min_item <= 1:
        return ds
    mask = np.ones(ds.n_interactions, dtype=bool)
    while True:
        users, items = ds.users_idx[mask], ds.items_idx[mask]
        user_ok = np.bincount(users, minlength=ds.n_users) >= min_user
        item_ok = np.bincount(items, minlength=ds.n_items) >= min_item
        row_ok = user_ok[ds.users_idx] & item_ok[ds.items_idx] & mask
        if row_ok.sum() == mask.sum():
            break
        mask = row_ok
    out = compact(ds.subset(mask))
    reason = f"k-core filter (users >= {min_user}, items >= {min_item})"
    return _with_drops(out, ds.dropped, reason, int((~mask).sum()))


def compact(ds: Dataset) -> Dataset:
    """Drop users and items that have no interactions from the maps and tables."""
    keep_users = np.bincount(ds.users_idx, minlength=ds.n_users) > 0
    keep_items = np.bincount(ds.items_idx, minlength=ds.n_items) > 0
    if keep_users.all() and keep_items.all():
        return ds
    new_user = np.cumsum(keep_users) - 1
    new_item = np.cumsum(keep_items) - 1
    return replace(
        ds,
        user_map=IdMap(ds.user_map.ids[keep_users], kind="user"),
        item_map=IdMap(ds.item_map.ids[keep_items], kind="item"),
        users_idx=new_user[ds.users_idx],
        items_idx=new_item[ds.items_idx],
        items=None
        if ds.items is None
        else ds.items.iloc[np.flatnonzero(keep_items)].reset_index(drop=True),
        users=None
        if ds.users is None
        else ds.users.iloc[np.flatnonzero(keep_users)].reset_index(drop=True),
    )


def clean(
    ds: Dataset,
    *,
    dedupe: DedupePolicy | None = "last",
    implicit_threshold: float | None = None,
    min_user_interactions: int = 0,
    min_item_interactions: int = 0,
) -> Dataset:
    """The usual order: duplicates first, then the implicit threshold, then the k-core
    (so the core is computed on the interactions that are actually kept)."""
    if dedupe is not None:
        ds = deduplicate(ds, dedupe)
    if implicit_threshold is not None:
        ds = to_implicit(ds, implicit_threshold)
    if min_user_interactions > 1 or min_item_interactions > 1:
        ds = k_core(ds, min_user_interactions, min_item_interactions)
    return ds


def _with_drops(
    ds: Dataset,
    before: DropReport,
    reason: str,
    n: int,
    *,
    merged: bool = False,
    lossless: bool = False,
) -> Dataset:
    report = before.copy()
    report.add(reason, n, merged=merged, lossless=lossless)
    return replace(ds, dropped=report)
