"""Synthetic interaction data with structure a model can learn.

Items belong to latent topics and have power-law popularity; each user prefers a primary
and a secondary topic and drifts from the first towards the second over time (so order
matters to sequence models). Item titles, descriptions and genres are made from each
topic's words, so text models can learn the same structure from text.

Generation is chunked over users and fully vectorised; arrays are int32/float32 and the
Dataset is built directly over range ids, so 100M interactions fit in a few GB.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmrec.data.dataset import Dataset
from lmrec.data.idmap import IdMap
from lmrec.errors import ConfigError

# One genre per run of topic words below (topic t uses run t % 16 and genre t % 16).
GENRES = (
    "Adventure", "Sci-Fi", "Fantasy", "Crime", "Comedy", "Drama", "Musical", "Western",
    "Horror", "Romance", "War", "Family", "Thriller", "Documentary", "Mystery", "History",
)  # fmt: skip

# Each topic takes a disjoint run of these words for its titles and descriptions.
_TOPIC_WORDS = (
    "harbor storm sailor lighthouse tide anchor voyage island reef compass "
    "galaxy rocket orbit comet android nebula signal station quantum pilot "
    "castle dragon sword wizard kingdom quest crown forest knight spell "
    "detective murder alibi witness clue heist shadow suspect verdict motive "
    "kitchen recipe bakery chef harvest garden feast spice market vineyard "
    "stadium coach league champion rookie trophy season sprint rival arena "
    "symphony guitar singer stage melody rhythm chorus piano ballad concert "
    "desert canyon outlaw sheriff frontier saddle gold river wagon ranch "
    "ghost haunted crypt curse midnight ritual demon mirror attic whisper "
    "wedding romance letter summer promise kiss dance heart bride paris "
    "soldier battle trench general siege empire rebel border medal front "
    "school teacher friend puzzle robot puppy holiday camp treasure birthday "
    "senate election scandal spy embassy cipher agent ballot treaty summit "
    "volcano glacier jungle safari ocean whale eagle wolf tundra coral "
    "hacker network virus code server glitch drone circuit cyber firewall "
    "painter museum sculpture canvas gallery poet novel opera theatre muse"
)
_ADJECTIVES = "hidden last first lost great little long dark bright secret quiet wild"
_NOUNS = "story tale journey life night day world return legacy dream"
_WORDS_PER_TOPIC = 10


@dataclass(frozen=True)
class _Catalogue:
    topic: np.ndarray  # (n_items,) int32
    sorted_items: np.ndarray  # items ordered by topic
    cdf: np.ndarray  # per-topic cumulative popularity, offset by the topic number
    n_topics: int
    popularity_cdf: np.ndarray  # cumulative popularity over all items, ending at 1


def generate(
    n_users: int = 1000,
    n_items: int = 500,
    n_interactions: int = 20_000,
    seed: int = 0,
    *,
    n_topics: int = 8,
    popularity_exponent: float = 1.2,
    topic_focus: float = 0.85,
    explicit: bool = False,
    start: str = "2020-01-01",
    span_days: float = 365.0,
    chunk_size: int = 4_000_000,
    with_text: bool = True,
    name: str = "synthetic",
) -> Dataset:
    """A Dataset of exactly `n_interactions` distinct (user, item) pairs.

    `topic_focus` is the share of interactions drawn from the user's own topics (the rest
    are drawn by popularity across all items); `popularity_exponent` is the Zipf exponent
    of item popularity. Values are 1.0, or 1-5 ratings (higher on the user's topics)
    when `explicit`. Every user has at least one interaction when n_interactions allows.
    """
    _check(n_users, n_items, n_interactions, n_topics, topic_focus)
    n_topics = min(n_topics, n_items)
    rng = np.random.default_rng(seed)
    cat = _catalogue(rng, n_items, n_topics, popularity_exponent)
    primary = rng.integers(0, n_topics, n_users).astype(np.int32)
    offset = rng.integers(1, max(n_topics, 2), n_users) if n_topics > 1 else 0
    secondary = ((primary + offset) % n_topics).astype(np.int32)
    counts = _user_counts(rng, n_users, n_items, n_interactions)
    t0 = int(pd.Timestamp(start, tz="UTC").timestamp())
    span = int(span_days * 86400)
    user_span = (rng.uniform(0.05, 0.6, n_users) * span).astype(np.int64)
    user_start = t0 + (rng.random(n_users) * (span - user_span)).astype(np.int64)

    users_idx = np.empty(n_interactions, dtype=np.int32)
    items_idx = np.empty(n_interactions, dtype=np.int32)
    timestamps = np.empty(n_interactions, dtype=np.int64)
    values = np.ones(n_interactions, dtype=np.float32)
    ends = np.cumsum(counts)
    lo_user, lo_row = 0, 0
    while lo_user < n_users:
        # Users [lo_user, hi_user) in one chunk of about chunk_size rows.
        hi_user = int(np.searchsorted(ends, lo_row + chunk_size, side="right"))
        hi_user = max(hi_user, lo_user + 1)
        hi_row = int(ends[hi_user - 1])
        rows = slice(lo_row, hi_row)
        c = counts[lo_user:hi_user]
        users = np.repeat(np.arange(lo_user, hi_user, dtype=np.int32), c)
        position = np.arange(hi_row - lo_row) - np.repeat(np.cumsum(c) - c, c)
        progress = position / np.maximum(c[users - lo_user], 1)
        topics = _pick_topics(rng, users, progress, primary, secondary, n_topics, topic_focus)
        items = _sample_items(rng, cat, topics)
        items = _make_distinct(rng, cat, users, items, topics, n_items)
        users_idx[rows], items_idx[rows] = users, items
        # Times increase with position inside each user's active period.
        jitter = rng.random(len(users))
        timestamps[rows] = user_start[users] + (
            (position + jitter) / c[users - lo_user] * user_span[users]
        ).astype(np.int64)
        if explicit:
            values[rows] = _ratings(rng, cat.topic[items], primary[users], secondary[users])
        lo_user, lo_row = hi_user, hi_row

    items_table = _item_table(rng, cat.topic, n_topics) if with_text else None
    users_table = pd.DataFrame(
        {
            "user_id": np.arange(n_users).astype(str),
            "segment": np.asarray(GENRES, dtype=object)[primary % len(GENRES)],
        }
    )
    return Dataset(
        user_map=IdMap(np.arange(n_users), kind="user"),
        item_map=IdMap(np.arange(n_items), kind="item"),
        users_idx=users_idx,
        items_idx=items_idx,
        values=values,
        timestamps=timestamps,
        items=items_table,
        users=users_table,
        name=name,
        explicit=explicit,
    )


def _check(n_users: int, n_items: int, n_interactions: int, n_topics: int, focus: float) -> None:
    if min(n_users, n_items, n_topics) < 1 or n_interactions < 0:
        raise ConfigError("n_users, n_items and n_topics must be >= 1, n_interactions >= 0")
    if n_interactions > n_users * _cap(n_items):
        raise ConfigError(
            f"{n_interactions} distinct interactions do not fit {n_users} users x "
            f"{n_items} items (each user may have at most {_cap(n_items)}); "
            "ask for fewer interactions or more items"
        )
    if not 0 <= focus <= 1:
        raise ConfigError("topic_focus must be in [0, 1]")
    if max(n_users, n_items) >= 2**31 - 1:
        raise ConfigError("n_users and n_items must fit in int32")


def _cap(n_items: int) -> int:
    """Most interactions one user may have: half the catalogue (keeps sampling of distinct
    items fast), at least one."""
    return max(1, n_items // 2)


def _catalogue(
    rng: np.random.Generator, n_items: int, n_topics: int, exponent: float
) -> _Catalogue:
    topic = rng.permutation(np.arange(n_items) % n_topics).astype(np.int32)
    weight = (rng.permutation(n_items) + 1.0) ** -exponent
    order = np.argsort(topic, kind="stable")
    sorted_topic = topic[order]
    cum = np.cumsum(weight[order])
    topic_end = np.searchsorted(sorted_topic, np.arange(n_topics), side="right") - 1
    topic_start = np.searchsorted(sorted_topic, np.arange(n_topics), side="left")
    before = np.where(topic_start > 0, cum[np.maximum(topic_start - 1, 0)], 0.0)
    total = cum[topic_end] - before
    cdf = sorted_topic + (cum - before[sorted_topic]) / total[sorted_topic]
    popularity_cdf = np.cumsum(weight) / weight.sum()
    return _Catalogue(topic, order.astype(np.int32), cdf, n_topics, popularity_cdf)


def _user_counts(
    rng: np.random.Generator, n_users: int, n_items: int, n_interactions: int
) -> np.ndarray:
    """Long-tailed activity (log-normal), at least one each when possible, capped."""
    cap = _cap(n_items)
    weight = rng.lognormal(0.0, 1.0, n_users)
    base = 1 if n_interactions >= n_users else 0
    counts = np.full(n_users, base, dtype=np.int64)
    remaining = n_interactions - base * n_users
    while remaining > 0:
        room = counts < cap
        p = np.where(room, weight, 0.0)
        counts += rng.multinomial(remaining, p / p.sum())
        counts = np.minimum(counts, cap)
        remaining = n_interactions - int(counts.sum())
    return counts


def _pick_topics(
    rng: np.random.Generator,
    users: np.ndarray,
    progress: np.ndarray,
    primary: np.ndarray,
    secondary: np.ndarray,
    n_topics: int,
    focus: float,
) -> np.ndarray:
    """Own topics with probability `focus` (secondary more likely later in a user's
    history), otherwise -1, meaning "any item by popularity"."""
    own = rng.random(len(users)) < focus
    late = rng.random(len(users)) < 0.15 + 0.6 * progress
    topics = np.where(late, secondary[users], primary[users])
    return np.where(own, topics, -1).astype(np.int32)


def _sample_items(rng: np.random.Generator, cat: _Catalogue, topics: np.ndarray) -> np.ndarray:
    # Exploration (-1) picks a random topic, then an item by popularity inside it.
    t = np.where(topics < 0, rng.integers(0, cat.n_topics, len(topics)), topics)
    pos = np.searchsorted(cat.cdf, t + rng.random(len(topics)), side="right")
    return cat.sorted_items[np.minimum(pos, len(cat.cdf) - 1)]


def _make_distinct(
    rng: np.random.Generator,
    cat: _Catalogue,
    users: np.ndarray,
    items: np.ndarray,
    topics: np.ndarray,
    n_items: int,
) -> np.ndarray:
    """Redraw repeated (user, item) pairs until every pair is distinct: first from the
    same topic, then by popularity over the whole catalogue (keeping the long tail), and
    finally uniformly, which always terminates because a user holds at most half of it."""
    keys = users.astype(np.int64) * n_items + items
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    repeated = np.r_[False, sorted_keys[1:] == sorted_keys[:-1]]
    todo = order[repeated]
    taken = sorted_keys[~repeated]
    rounds = 0
    while todo.size:
        if rounds < 3:
            new = _sample_items(rng, cat, topics[todo])
        elif rounds < 10:
            pos = np.searchsorted(cat.popularity_cdf, rng.random(todo.size), side="right")
            new = np.minimum(pos, n_items - 1).astype(np.int32)
        else:
            new = rng.integers(0, n_items, todo.size).astype(np.int32)
        new_keys = users[todo].astype(np.int64) * n_items + new
        pos = np.searchsorted(taken, new_keys)
        clash = taken[np.minimum(pos, len(taken) - 1)] == new_keys
        _, first = np.unique(new_keys, return_index=True)
        fresh = np.zeros(todo.size, dtype=bool)
        fresh[first] = True
        ok = fresh & ~clash
        items[todo[ok]] = new[ok]
        accepted = np.flatnonzero(ok)
        accepted = accepted[np.argsort(new_keys[accepted])]  # insert in order: stays sorted
        taken = np.insert(taken, pos[accepted], new_keys[accepted])
        todo = todo[~ok]
        rounds += 1
    return items


def _ratings(
    rng: np.random.Generator, item_topic: np.ndarray, primary: np.ndarray, secondary: np.ndarray
) -> np.ndarray:
    score = 2.6 + 1.6 * (item_topic == primary) + 0.9 * (item_topic == secondary)
    return np.clip(np.rint(score + rng.normal(0, 0.8, len(score))), 1, 5).astype(np.float32)


def _item_table(rng: np.random.Generator, topic: np.ndarray, n_topics: int) -> pd.DataFrame:
    """Titles and descriptions from the item's topic words; genres from its topic."""
    n = len(topic)
    words = np.asarray(_TOPIC_WORDS.split(), dtype=object)
    adjectives = np.asarray(_ADJECTIVES.split(), dtype=object)
    nouns = np.asarray(_NOUNS.split(), dtype=object)
    n_runs = len(words) // _WORDS_PER_TOPIC
    base = (topic % n_runs) * _WORDS_PER_TOPIC

    def topic_word() -> pd.Series:
        return pd.Series(words[base + rng.integers(0, _WORDS_PER_TOPIC, n)])

    def one_of(pool: np.ndarray) -> pd.Series:
        return pd.Series(pool[rng.integers(0, len(pool), n)])

    title = (
        "The " + one_of(adjectives).str.capitalize() + " " + topic_word().str.capitalize()
        + " " + topic_word().str.capitalize()
    )  # fmt: skip
    description = (
        "A " + one_of(adjectives) + " " + one_of(nouns) + " of " + topic_word() + ", "
        + topic_word() + " and " + topic_word() + ", where a " + topic_word() + " meets a "
        + topic_word() + "."
    )  # fmt: skip
    genre = np.asarray(GENRES, dtype=object)
    first = genre[topic % len(GENRES)]
    second = genre[(topic + 1 + rng.integers(0, len(GENRES) - 1, n)) % len(GENRES)]
    has_second = rng.random(n) < 0.3
    genres = pd.Series(first) + np.where(has_second, "|" + pd.Series(second), "")
    return pd.DataFrame(
        {
            "item_id": np.arange(n).astype(str),
            "title": title + " " + pd.Series(np.arange(n).astype(str)),
            "description": description,
            "genres": genres,
        }
    )
