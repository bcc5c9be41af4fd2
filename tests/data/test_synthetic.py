"""Synthetic generator: exact shapes, determinism, and structure a model can learn."""

from __future__ import annotations

import numpy as np
import pytest

from lmrec.data.synthetic import GENRES, generate
from lmrec.errors import ConfigError


def test_shapes_and_types() -> None:
    ds = generate(200, 80, 3000, seed=0)
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (200, 80, 3000)
    assert ds.users_idx.dtype == np.int32 and ds.items_idx.dtype == np.int32
    assert ds.values.dtype == np.float32 and (ds.values == 1).all()
    assert not ds.explicit
    assert list(ds.item_map.ids[:3]) == ["0", "1", "2"]
    assert list(ds.items.columns) == ["item_id", "title", "description", "genres"]
    assert len(ds.items) == 80 and len(ds.users) == 200
    keys = ds.users_idx.astype(np.int64) * ds.n_items + ds.items_idx
    assert len(np.unique(keys)) == len(keys)  # distinct (user, item) pairs
    assert (ds.user_counts() >= 1).all()
    assert (ds.user_counts() <= 40).all()  # at most half the catalogue each


def test_same_seed_same_data_other_seed_other_data() -> None:
    a, b, c = (
        generate(100, 50, 1000, seed=5),
        generate(100, 50, 1000, seed=5),
        generate(100, 50, 1000, seed=6),
    )
    assert a.fingerprint() == b.fingerprint() != c.fingerprint()
    assert a.items.equals(b.items)


def test_chunking_does_not_change_validity() -> None:
    ds = generate(500, 100, 8000, seed=1, chunk_size=700)
    keys = ds.users_idx.astype(np.int64) * ds.n_items + ds.items_idx
    assert len(np.unique(keys)) == 8000
    assert np.array_equal(np.bincount(ds.users_idx, minlength=500), ds.user_counts())
    assert (np.diff(ds.users_idx) >= 0).all()  # rows grouped by user, in order


def test_popularity_is_long_tailed() -> None:
    counts = np.sort(generate(2000, 400, 40_000, seed=2).item_counts())[::-1]
    top_tenth, bottom_half = counts[:40].sum() / 40_000, counts[200:].sum() / 40_000
    assert top_tenth > 0.35  # uniform popularity would give 0.1
    assert top_tenth > 2 * bottom_half


def test_users_stick_to_topics_seen_in_genres_and_text() -> None:
    ds = generate(300, 400, 6000, seed=3, n_topics=8, topic_focus=0.9)
    first_genre = ds.items["genres"].str.split("|").str[0].to_numpy()
    assert set(first_genre) <= set(GENRES[:8])
    # Most of a user's interactions fall in their two most frequent genres.
    share = []
    for u in range(50):
        g = first_genre[ds.items_idx[ds.users_idx == u]]
        _, n = np.unique(g, return_counts=True)
        share.append(np.sort(n)[-2:].sum() / n.sum())
    assert np.mean(share) > 0.75  # 8 topics: chance level would be about 0.3
    # Titles carry their topic's words: items of one genre share vocabulary.
    crime = ds.items.loc[first_genre == "Crime", "description"]
    assert crime.str.contains("detective|murder|alibi|witness|clue|heist").all()


def test_timestamps_increase_within_user() -> None:
    ds = generate(50, 60, 800, seed=4, start="2021-01-01", span_days=30)
    assert ds.has_timestamps
    assert ds.timestamps.min() >= 1609459200 and ds.timestamps.max() <= 1609459200 + 30 * 86400
    same_user = ds.users_idx[1:] == ds.users_idx[:-1]
    assert (np.diff(ds.timestamps)[same_user] >= 0).all()


def test_explicit_ratings_prefer_own_topics() -> None:
    ds = generate(200, 100, 4000, seed=5, explicit=True, topic_focus=0.5)
    assert ds.explicit
    assert set(np.unique(ds.values)) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    assert ds.values.std() > 0.5


def test_impossible_request() -> None:
    with pytest.raises(ConfigError, match="do not fit"):
        generate(2, 10, 11)
