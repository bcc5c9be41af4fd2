"""Optional model capabilities, as small protocols the serving and CLI code can test for."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import pandas as pd


@dataclass(frozen=True)
class AddedItems:
    """What `add_items` did, in the user's item ids."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    #: ids whose rows gave no text, so the model cannot score them yet
    without_text: list[str] = field(default_factory=list)


@runtime_checkable
class SupportsAddItems(Protocol):
    """A fitted model that takes new catalogue rows (item_id plus text/attribute columns)
    and can recommend them at once, without refitting. Rows with known ids update them."""

    def add_items(self, items: pd.DataFrame) -> AddedItems: ...


def can_add_items(model: object) -> bool:
    """Whether `model.add_items` can be called. Prefer this to isinstance with
    SupportsAddItems: a model may offer the capability only in some configurations (a
    fusion only when a member reads text), and a protocol check sees just the class."""
    return callable(getattr(model, "add_items", None))
