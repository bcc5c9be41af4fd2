"""A summary of a Dataset as plain data (JSON-ready): sizes, sparsity, activity
distributions, time range, values and what was dropped while loading."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from lmrec.data.dataset import Dataset

QUANTILES = (0.1, 0.25, 0.75, 0.9, 0.99)
MAX_DISTINCT_VALUES = 20  # below this, values are listed with their counts
#: more than this share of the rows read not kept as read deserves a warning
LOSS_WARNING_SHARE = 0.05


def load_summary(ds: Dataset) -> str:
    """One line: rows read, interactions kept, rows merged and dropped with their reasons
    (and first line numbers), and how the columns were understood."""
    report = ds.dropped
    parts = []
    if report.rows_read is not None:
        parts.append(f"read {report.rows_read:,} rows")
    parts.append(
        f"kept {ds.n_interactions:,} interactions ({ds.n_users:,} users, {ds.n_items:,} items)"
    )
    merged = report.merged
    if merged:
        reasons = ", ".join(r if len(merged) == 1 else report.describe(r) for r in sorted(merged))
        parts.append(f"merged {sum(merged.values()):,} ({reasons})")
    dropped = report.discarded
    if dropped:
        total = sum(dropped.values())
        reasons = ", ".join(report.describe(r) for r in sorted(dropped))
        parts.append(f"dropped {total:,} ({reasons})")
    else:
        parts.append("dropped none")
    parts.append("explicit ratings" if ds.explicit else "implicit feedback")
    parts.extend(report.notes)
    return f"{ds.name}: " + "; ".join(parts)


def loss_warning(ds: Dataset, share: float = LOSS_WARNING_SHARE) -> str | None:
    """A warning when more than `share` of the rows read are not kept as they were (dropped,
    or merged into another row by keeping one of them), with what to do about it."""
    report = ds.dropped
    read = report.rows_read if report.rows_read is not None else ds.n_interactions + report.total
    if not read or report.lost <= share * read:
        return None
    hints = []
    lossy = {r: n for r, n in report.merged.items() if r not in report.lossless_merges}
    if lossy:
        n = sum(lossy.values())
        hints.append(
            f"{_rows(n)} merged into another row of the same (user, item) by keeping one "
            "(--dedupe sum adds their values up instead)"
        )
    if report.discarded:
        hints.append(f"{_rows(sum(report.discarded.values()))} dropped (reasons above)")
    return (
        f"{report.lost / read:.0%} of the {read:,} rows read are not kept as they were: "
        + "; ".join(hints)
    )


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
        "rows_read": ds.dropped.rows_read,
        "merged": dict(sorted(ds.dropped.merged.items())),
        "dropped": dict(sorted(ds.dropped.discarded.items())),
        "dropped_lines": {r: lines for r, lines in sorted(ds.dropped.examples.items())},
        "dropped_total": ds.dropped.total,
        "notes": list(ds.dropped.notes),
    }


def _rows(n: int) -> str:
    return f"{n:,} row was" if n == 1 else f"{n:,} rows were"


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
