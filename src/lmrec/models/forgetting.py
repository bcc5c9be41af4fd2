"""Forgetting users in a trained model, without retraining it.

`forget_users` returns a copy of the model in which the users' ids no longer resolve
(they are replaced by random placeholders, so the dense indices of everyone else stay),
their training rows and stored sequences are empty, and their per-user vectors are zero.
A request naming such a user is then answered as for a stranger.

What stays: item parameters (item factors, item-item weights, network weights other than
user embeddings) keep what they learned from these users until the model is retrained
without them; `lmrec.events.retrain` leaves forgotten users out of that retrain.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Iterable
from typing import Any

import numpy as np

from lmrec.data.idmap import IdMap
from lmrec.models.base import Recommender

#: placeholder ids start with this; the random tail keeps them from meeting a real id
PLACEHOLDER = "forgotten-"


def forget_users(
    model: Recommender[Any], user_ids: Iterable[str]
) -> tuple[Recommender[Any], list[str]]:
    """(copy of `model` without these users, the ids it knew and forgot). When it knew
    none of them the model itself is returned unchanged."""
    assert model.user_map is not None
    wanted = list(dict.fromkeys(str(u) for u in user_ids))
    indices = model.user_map.lookup(wanted, missing="drop")
    members = getattr(model, "members_", None)
    if not len(indices) and not members:
        return model, []
    forgotten = model.user_map.to_ids(indices).tolist()
    clone = copy.copy(model)
    if members:  # a fusion: every member forgets too, and their lists of ids agree
        changed = [forget_users(m, wanted) for m in members]
        clone.members_ = [m for m, _ in changed]  # type: ignore[attr-defined]
        forgotten = list(dict.fromkeys([*forgotten, *(u for _, ids in changed for u in ids)]))
        if not forgotten:
            return model, []
    if len(indices):
        ids = model.user_map.ids.copy()
        ids[indices] = [PLACEHOLDER + secrets.token_hex(8) for _ in indices]
        clone.user_map = IdMap(ids, kind="user")
        clone._forget_rows(np.asarray(indices, dtype=np.int64))
    return clone, forgotten
