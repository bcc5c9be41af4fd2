"""Recommendations for many users at once, in the user's own ids, as one frame.

The scores of a chunk of users come from one `score_users` call and one shared top-k
(the same tie order as `Recommender.recommend`, so each user's list is the one a single
request gets); item fields (title, genres, ...) are joined from the model's item table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp

from lmrec.data.idmap import IdMap
from lmrec.errors import ConfigError, UnknownIdError

#: users scored per call, at most; fewer for large catalogues so that one dense block of
#: scores stays within SCORE_BUDGET floats (128 MB)
CHUNK = 1024
SCORE_BUDGET = 32_000_000


class _BatchRanker(Protocol):
    user_map: IdMap | None
    item_map: IdMap | None
    items: pd.DataFrame | None

    def recommend_users(
        self, users: np.ndarray, k: int, exclude: sp.csr_matrix | None = None
    ) -> tuple[np.ndarray, np.ndarray]: ...


def recommend_many(
    model: _BatchRanker,
    user_ids: Iterable[Any],
    k: int = 10,
    *,
    exclude_seen: bool = True,
    unknown: Literal["error", "skip"] = "error",
    fields: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Columns user_id, rank (1 = best), item_id, score, then the asked item `fields`;
    users in the order given (each once). A user with fewer than k rankable items gets a
    shorter list. An id the model was not trained on is an error naming it, or with
    unknown="skip" is left out (compare the frame's user_id column with what you asked)."""
    if k < 1:
        raise ConfigError(f"k must be at least 1 (got {k})")
    if unknown not in ("error", "skip"):
        raise ConfigError(f"unknown must be 'error' or 'skip' (got {unknown!r})")
    assert model.user_map is not None and model.item_map is not None
    wanted = list(dict.fromkeys(str(u) for u in user_ids))
    idx = model.user_map.lookup(wanted, missing="mark")
    if unknown == "error" and (idx < 0).any():
        missing = [u for u, i in zip(wanted, idx, strict=True) if i < 0]
        more = f" and {len(missing) - 1} more" if len(missing) > 1 else ""
        raise UnknownIdError(
            f"unknown user id {missing[0]!r}{more}: the model was not trained on them; "
            "pass unknown='skip' to leave them out, or recommend for their history"
        )
    known = idx[idx >= 0]
    n_items = len(model.item_map)
    chunk = max(1, min(CHUNK, SCORE_BUDGET // max(n_items, 1)))
    parts = []
    for start in range(0, len(known), chunk):
        users = known[start : start + chunk]
        # recommend_users removes the rows of `exclude` (indexed by user; default: the
        # training history); an empty matrix keeps seen items in the lists
        exclude = None if exclude_seen else sp.csr_matrix((int(users.max()) + 1, n_items))
        top, scores = model.recommend_users(users, k, exclude=exclude)
        rows, ranks = np.nonzero(np.isfinite(scores))
        parts.append(
            pd.DataFrame(
                {
                    "user_id": model.user_map.to_ids(users[rows]),
                    "rank": ranks + 1,
                    "item_id": model.item_map.to_ids(top[rows, ranks]),
                    "score": scores[rows, ranks].astype(np.float64),
                }
            )
        )
    frame = (
        pd.concat(parts, ignore_index=True)
        if parts
        else pd.DataFrame({"user_id": [], "rank": [], "item_id": [], "score": []})
    )
    frame = frame.astype({"user_id": str, "rank": np.int64, "item_id": str, "score": np.float64})
    return with_item_fields(model, frame, fields) if fields else frame


def item_fields(items: pd.DataFrame | None, fields: Sequence[str]) -> pd.DataFrame:
    """The asked columns of an item table, indexed by item id (as text); an unknown field
    is an error listing the ones there are."""
    available = [c for c in (items.columns if items is not None else []) if c != "item_id"]
    unknown = [f for f in fields if f not in available]
    if unknown or items is None:
        listed = ", ".join(map(str, available)) or "none: the model has no item table"
        raise ConfigError(f"unknown item field {unknown[0]!r} (available: {listed})")
    table = items.set_index(items["item_id"].astype(str))[list(fields)]
    return table[~table.index.duplicated(keep="last")]


def with_item_fields(
    model: _BatchRanker, frame: pd.DataFrame, fields: Sequence[str]
) -> pd.DataFrame:
    """`frame` (with an item_id column) plus the asked fields of its items."""
    table = item_fields(model.items, fields)
    joined = table.reindex(frame["item_id"].astype(str)).reset_index(drop=True)
    return pd.concat([frame.reset_index(drop=True), joined], axis=1)
