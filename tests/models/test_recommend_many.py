"""`model.recommend_many(user_ids, k)`: many users by their own ids, one frame, each
user's list exactly the one `model.recommend` gives."""

from __future__ import annotations

import numpy as np
import pytest

import lmrec
from lmrec.data.dataset import Dataset
from lmrec.data.synthetic import generate
from lmrec.errors import ConfigError, UnknownIdError


@pytest.fixture(scope="module")
def data() -> Dataset:
    return generate(n_users=60, n_items=40, n_interactions=900, seed=5)


@pytest.mark.parametrize("name", ["pop", "itemknn", "ease", "als"])
def test_each_users_list_is_the_single_request_list(data: Dataset, name: str) -> None:
    model = lmrec.create_model(name).fit(data)
    users = [str(u) for u in data.user_map.ids[[7, 3, 41, 0]]]
    frame = model.recommend_many(users, k=5)
    assert list(frame.columns) == ["user_id", "rank", "item_id", "score"]
    assert list(dict.fromkeys(frame["user_id"])) == users  # in the order asked
    for user in users:
        mine = frame[frame["user_id"] == user]
        single = model.recommend(lmrec.Query(user_id=user, k=5))
        assert mine["item_id"].tolist() == single.item_ids
        assert mine["rank"].tolist() == list(range(1, len(single) + 1))
        np.testing.assert_allclose(mine["score"], single.scores, rtol=1e-6)


def test_seen_items_stay_out_unless_asked(data: Dataset) -> None:
    model = lmrec.create_model("pop").fit(data)
    user = str(data.user_map.ids[2])
    seen = set(data.item_map.to_ids(data.csr[2].indices))
    kept_out = model.recommend_many([user], k=40)
    assert not seen & set(kept_out["item_id"])
    assert len(kept_out) == 40 - len(seen)  # fewer rankable items than k: a shorter list
    kept_in = model.recommend_many([user], k=40, exclude_seen=False)
    assert seen <= set(kept_in["item_id"]) and len(kept_in) == 40


def test_unknown_users_are_named_or_skipped(data: Dataset) -> None:
    model = lmrec.create_model("pop").fit(data)
    known = str(data.user_map.ids[0])
    with pytest.raises(UnknownIdError, match=r"'nobody' and 1 more"):
        model.recommend_many([known, "nobody", "ghost"], k=3)
    skipped = model.recommend_many([known, "nobody", known], k=3, unknown="skip")
    assert skipped["user_id"].tolist() == [known] * 3


def test_item_fields_are_joined(data: Dataset) -> None:
    model = lmrec.create_model("pop").fit(data)
    frame = model.recommend_many([str(data.user_map.ids[0])], k=3, fields=["title", "genres"])
    assert data.items is not None
    titles = data.items.set_index("item_id")["title"]
    assert frame["title"].tolist() == titles.reindex(frame["item_id"]).tolist()
    with pytest.raises(ConfigError, match=r"unknown item field 'titel' \(available: .*title"):
        model.recommend_many([str(data.user_map.ids[0])], k=3, fields=["titel"])
