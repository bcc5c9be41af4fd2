"""Tiny datasets whose correct recommendations are known, for tests of any model.

`blocks()` builds groups of users and items (like implicit's checkerboard test): each user
interacted with every item of their own group except one, which is held out. The held-out
item co-occurs with all of the user's other items in the histories of their group mates,
so a sound collaborative model must rank it first. The user's history is also in a fixed
cyclic order that ends right before the held-out item, so sequence models can learn it as
"the next item". Items carry text (title, genres) so text models can use the same data.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from lmrec.data.dataset import Dataset, from_frame

GENRES = ("Comedy|Romance", "Horror|Thriller", "Documentary", "Animation|Children", "Western")
_TITLE_WORDS = ("Funny", "Scary", "True", "Cartoon", "Dusty")
_KIND = (
    "comedy about love",
    "horror story",
    "documentary about nature",
    "cartoon for kids",
    "western with cowboys",
)
COLD_ITEM = "cold0"


@dataclass(frozen=True)
class ToyData:
    """A training set, the held-out interactions, and the answer each user should get."""

    train: Dataset
    test: Dataset
    #: user id -> the held-out item id that should be that user's first recommendation
    held_out: dict[str, str]
    #: user id -> group number; item ids of group g are the g-th block of `group_items`
    user_group: dict[str, int]
    group_items: list[list[str]]

    def group_of_item(self, item_id: str) -> int:
        for g, items in enumerate(self.group_items):
            if item_id in items:
                return g
        raise KeyError(item_id)


def blocks(
    n_groups: int = 3,
    users_per_group: int = 8,
    items_per_group: int = 8,
    *,
    explicit: bool = False,
    noise_per_user: int = 1,
) -> ToyData:
    """Block-structured data with a provable top-1 per user (see module docstring).

    Each user also touches `noise_per_user` items of the next group, so other groups'
    items are not trivially unscorable. With explicit=True the values are ratings: own
    group items 4-5, the other group's items 1 (disliked), so a rating model can learn
    the block structure too. The catalogue also holds one item nobody interacted with
    (COLD_ITEM), which models must accept.
    """
    if n_groups < 2 or users_per_group < 2 or items_per_group < 3:
        raise ValueError("blocks needs >= 2 groups, >= 2 users and >= 3 items per group")
    if not 0 <= noise_per_user < items_per_group:
        raise ValueError("noise_per_user must be in [0, items_per_group)")
    rows: list[tuple[str, str, float, int, bool]] = []
    held_out: dict[str, str] = {}
    user_group: dict[str, int] = {}
    group_items = [
        [f"i{g * items_per_group + j}" for j in range(items_per_group)] for g in range(n_groups)
    ]
    t0 = 1_600_000_000
    for g in range(n_groups):
        own, other = group_items[g], group_items[(g + 1) % n_groups]
        for j in range(users_per_group):
            user = f"u{g * users_per_group + j}"
            user_group[user] = g
            h = j % items_per_group
            held_out[user] = own[h]
            clock = t0 + 10_000 * (g * users_per_group + j)
            for n in range(noise_per_user):  # earliest events, so the sequence ends on own
                noise = other[(j + n) % items_per_group]
                rows.append((user, noise, 1.0, clock, False))
                clock += 10
            # own items in cyclic order starting after h; h itself comes last (held out)
            for step in range(1, items_per_group + 1):
                pos = (h + step) % items_per_group
                rating = 5.0 if (j + pos) % 3 else 4.0
                rows.append((user, own[pos], rating, clock, pos == h))
                clock += 10
    frame = pd.DataFrame(rows, columns=["user_id", "item_id", "value", "timestamp", "held"])
    if not explicit:
        frame["value"] = 1.0
    full = from_frame(
        frame[["user_id", "item_id", "value", "timestamp"]],
        items=item_table(n_groups, items_per_group),
        users=pd.DataFrame({"user_id": list(user_group), "segment": list(user_group.values())}),
        name="toy-blocks",
        explicit=explicit,
    )
    held = frame["held"].to_numpy()
    return ToyData(
        train=full.subset(~held, name="toy-blocks-train"),
        test=full.subset(held, name="toy-blocks-test"),
        held_out=held_out,
        user_group=user_group,
        group_items=group_items,
    )


def item_table(n_groups: int, items_per_group: int) -> pd.DataFrame:
    """Catalogue with text columns: title, genres ('|'-separated), description, year."""
    records = []
    for g in range(n_groups):
        k = g % len(GENRES)
        for j in range(items_per_group):
            records.append(
                {
                    "item_id": f"i{g * items_per_group + j}",
                    "title": f"{_TITLE_WORDS[k]} film {j}",
                    "genres": GENRES[k],
                    "description": f"A {_KIND[k]}, part {j}.",
                    "year": 1990 + j,
                }
            )
    records.append(
        {
            "item_id": COLD_ITEM,
            "title": "Unseen film",
            "genres": "Drama",
            "description": "A drama nobody has watched yet.",
            "year": 2024,
        }
    )
    return pd.DataFrame(records)


def rng_interactions(
    n_users: int = 30, n_items: int = 20, density: float = 0.2, seed: int = 0
) -> Dataset:
    """Unstructured random implicit data (every user and item has >= 1 interaction),
    for checks that need no known answer, e.g. shapes and round trips."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    mask[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    mask[rng.integers(0, n_users, n_items), np.arange(n_items)] = True
    u, i = np.nonzero(mask)
    frame = pd.DataFrame(
        {
            "user_id": [f"u{x}" for x in u],
            "item_id": [f"i{x}" for x in i],
            "timestamp": 1_600_000_000 + np.arange(len(u)) * 60,
        }
    )
    return from_frame(frame, name="toy-random")
