import numpy as np
import pytest

from lmrec.testing import blocks, rng_interactions
from lmrec.testing.toy import COLD_ITEM


def test_blocks_hold_out_one_own_group_item_per_user() -> None:
    data = blocks(n_groups=3, users_per_group=4, items_per_group=5)
    train = data.train.to_frame()
    test = data.test.to_frame()
    assert len(test) == 12 and test["user_id"].is_unique
    for user, item in data.held_out.items():
        group = data.user_group[user]
        assert data.group_of_item(item) == group
        seen = set(train.loc[train["user_id"] == user, "item_id"])
        assert item not in seen
        assert set(data.group_items[group]) - seen == {item}
    # splits share maps; the catalogue has the never-seen item
    assert data.train.item_map is data.test.item_map
    assert COLD_ITEM in data.train.item_map
    assert data.train.item_counts()[data.train.item_map.index_of(COLD_ITEM)] == 0


def test_blocks_sequences_end_just_before_the_held_out_item() -> None:
    data = blocks(n_groups=2, users_per_group=3, items_per_group=4)
    seqs = data.train.sequences()
    for user, item in data.held_out.items():
        last = data.train.item_map.ids[seqs[data.train.user_map.index_of(user)][-1]]
        group = data.group_items[data.user_group[user]]
        assert group.index(item) == (group.index(last) + 1) % len(group)


def test_blocks_have_text_columns() -> None:
    items = blocks().train.items
    assert items is not None
    assert {"item_id", "title", "genres", "description"} <= set(items.columns)
    assert items["title"].str.len().gt(0).all()


def test_explicit_blocks_rate_own_group_high_and_other_low() -> None:
    data = blocks(explicit=True, noise_per_user=2)
    frame = data.train.to_frame()
    own = frame.apply(lambda r: data.group_of_item(r.item_id) == data.user_group[r.user_id], axis=1)
    assert (frame.loc[own, "value"] >= 4).all() and (frame.loc[~own, "value"] == 1).all()
    assert data.train.explicit


def test_blocks_reject_degenerate_sizes() -> None:
    with pytest.raises(ValueError):
        blocks(n_groups=1)


def test_rng_interactions_cover_every_user_and_item() -> None:
    data = rng_interactions(n_users=10, n_items=7, seed=1)
    assert (data.user_counts() > 0).all() and (data.item_counts() > 0).all()
    again = rng_interactions(n_users=10, n_items=7, seed=1)
    np.testing.assert_array_equal(data.items_idx, again.items_idx)
