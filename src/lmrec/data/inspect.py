"""A summary of a Dataset as plain data (JSON-ready): sizes, sparsity, activity
distributions, time range, values and what was dropped while loading."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from lmrec.data.dataset import Dataset

QUANTILES = (0.1, 0.25, 0.75, 0.9, 0.99)
MAX_DISTINCT_VALUES = 20  # below this, values are listed with their counts


def inspect_dataset(ds: Dataset) -> dict[str, Any]:
    user_counts = ds.user_counts()
    item_counts = ds.item_counts()
    pairs = int(ds.csr.nnz) if ds.n_interactions else 0
    cells = ds.n_users * ds.n_items
    return {
        "name": ds.name,
        "users": ds.n_users,
        "items": ds.n_items,
        "interactions": ds.n_interactions,
        "users_with_interactions": int((user_counts > 0).sum()),
        "items_with_interactions": int((item_counts > 0).sum()),
        "distinct_pairs": pairs,
        "density": pairs / cells if cells else 0.0,
        "feedback": "explicit" if ds.explicit else "implicit",
        "user_activity": _distribution(user_counts[user_counts > 0]),
        "item_popularity": _distribution(item_counts[item_counts > 0]),
        "time_range": _time_range(ds),
        "values": _values(ds.values),
        "item_columns": [] if ds.items is None else [str(c) for c in ds.items.columns],
        "user_columns": [] if ds.users is None else [str(c) for c in ds.users.columns],
        "dropped": dict(sorted(ds.dropped.counts.items())),
        "dropped_total": ds.dropped.total,
    }


def _distribution(counts: np.ndarray) -> dict[str, float]:
    if len(counts) == 0:
        return {}
    qs = np.quantile(counts, QUANTILES)
    out = {
        "min": int(counts.min()),
        "median": float(np.median(counts)),
        "mean": round(float(counts.mean()), 3),
        "max": int(counts.max()),
    }
    out.update(
        {f"p{round(q * 100)}": round(float(v), 3) for q, v in zip(QUANTILES, qs, strict=True)}
    )
    return out


def _time_range(ds: Dataset) -> dict[str, Any] | None:
    if not ds.has_timestamps:
        return None
    first, last = int(ds.timestamps.min()), int(ds.timestamps.max())
    return {
        "first": _iso(first),
        "last": _iso(last),
        "days": round((last - first) / 86400, 1),
    }


def _iso(seconds: int) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).date().isoformat()


def _values(values: np.ndarray) -> dict[str, Any]:
    if len(values) == 0:
        return {}
    out: dict[str, Any] = {
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": round(float(values.mean()), 4),
    }
    distinct, counts = np.unique(values, return_counts=True)
    if len(distinct) <= MAX_DISTINCT_VALUES:
        out["counts"] = {f"{v:g}": int(c) for v, c in zip(distinct, counts, strict=True)}
    return out
