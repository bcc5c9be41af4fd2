"""Training data for a retrain: the data the live model learned from plus the events the
service received since, in one Dataset.

The event store keeps every event, so merging the original data with all stored events
never counts an event twice, however many retrains came before. Events carry their
`value` (1.0 when they have none) and their time; a (user, item) pair found in both
simply has both interactions, as in any log. The catalogue is the original item table
with the items added through the API on top (their text and attributes win for ids in
both).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from lmrec.data.dataset import Dataset, from_frame
from lmrec.events.store import stored_events


@dataclass
class MergeReport:
    """What went into a merged training set (for the one-line summary)."""

    base_rows: int
    event_rows: int
    event_users: int
    event_items: int
    new_users: int
    new_items: int
    #: stored events valued 1.0 (the value of an event sent without one) beside ratings
    unvalued_beside_ratings: int = 0
    #: rows of forgotten users left out (of the base data and of events sent again)
    forgotten_rows: int = 0

    def line(self, base_name: str, store: str) -> str:
        text = (
            f"merged {self.base_rows:,} interactions from {base_name} with {self.event_rows:,} "
            f"stored events from {store} ({self.event_users:,} users, {self.event_items:,} "
            f"items; {self.new_users:,} users and {self.new_items:,} items new)"
        )
        if self.unvalued_beside_ratings:
            text += (
                f"; {self.unvalued_beside_ratings:,} events are valued 1.0 (the value of an "
                "event sent without one) beside the ratings: send ratings as their value"
            )
        if self.forgotten_rows:
            text += f"; {self.forgotten_rows:,} rows of forgotten users left out"
        return text


def merge_with_events(
    base: Dataset, url: str | Path, *, name: str | None = None, secret: bytes | None = None
) -> tuple[Dataset, MergeReport]:
    """`base` plus every event stored at `url` (and the catalogue items added there),
    without the users forgotten there (`secret`: the id secret that matches them)."""
    event_frame, catalogue, gone = stored_events(url, secret=secret)
    base_frame = gone.drop_from(base.to_frame())
    unvalued = 0
    if base.explicit:
        unvalued = int((event_frame["value"] == 1.0).sum())
    merged = pd.concat([base_frame, event_frame], ignore_index=True)
    items = _merged_items(base.items, catalogue if len(catalogue) else None)
    users = base.users
    if users is not None and gone.dropped:  # their user-table rows (e.g. age) go too
        users = users[~gone.mask(users["user_id"])].reset_index(drop=True)
    dataset = from_frame(
        merged,
        items=items,
        users=users,
        name=name or f"{base.name}+events",
        explicit=base.explicit,
    )
    event_users = event_frame["user_id"].drop_duplicates()
    report = MergeReport(
        base_rows=len(base_frame),
        event_rows=len(event_frame),
        event_users=len(event_users),
        event_items=event_frame["item_id"].nunique(),
        new_users=int((~event_users.isin(base.user_map.ids)).sum()),
        new_items=dataset.n_items - base.n_items,
        unvalued_beside_ratings=unvalued,
        forgotten_rows=gone.dropped,
    )
    return dataset, report


def _merged_items(base: pd.DataFrame | None, added: pd.DataFrame | None) -> pd.DataFrame | None:
    """The base item table with the stored catalogue on top (stored values win where they
    are given; columns of either are kept)."""
    if added is None or not len(added):
        return base
    added = added.dropna(subset=["item_id"]).copy()
    added["item_id"] = added["item_id"].astype(str)
    if base is None:
        return added
    table = base.copy()
    table["item_id"] = table["item_id"].astype(str)
    on_top = added.set_index("item_id")
    below = table.set_index("item_id")
    combined = on_top.combine_first(below)
    order = list(dict.fromkeys([*below.index, *on_top.index]))
    columns = list(dict.fromkeys([*below.columns, *on_top.columns]))
    return combined.reindex(order)[columns].reset_index()
