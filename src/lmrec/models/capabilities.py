"""What a model can do beyond scoring known users, as small protocols.

Callers ask `isinstance(model, FoldsIn)` and so on; nobody probes attributes. A check
first looks for the methods (as any runtime-checkable protocol does) and then asks the
instance, so a model whose abilities depend on how it was configured (a fusion can take
new items only when one of its members reads text) answers for itself through
`Recommender.declined_capabilities()`.

| protocol | methods | who has it |
|---|---|---|
| FoldsIn | score_histories | models that score a new history without refitting |
| ScoresSequences | score_sequences | sequence models (order matters) |
| HasItemVectors | item_vectors | models with an item representation (cosine similar items) |
| ItemSimilarity | similar_scores | models with their own item-to-item weights |
| InnerProduct | user_vectors, item_factors | scores are user . item: an item index can answer |
| TextSearchable | text_vectors, encode_query | models that embed free text in their item space |
| SupportsAddItems | add_items | models that take new catalogue rows by their text |
| PredictsRatings | predict | rating predictors (RMSE, MAE) |
| PredictsClicks | candidate_lists, click_probabilities | click models (AUC, log-loss, ECE) |
| ExplainsProfile | profile_weights, profile_of, item_similarity | user profiles built from items |
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, _ProtocolMeta, runtime_checkable

import numpy as np
import pandas as pd
import scipy.sparse as sp

if TYPE_CHECKING:
    from lmrec.data.idmap import IdMap
    from lmrec.encoders.text import ItemTextTemplate


class _CapabilityMeta(_ProtocolMeta):
    """isinstance(obj, Capability): the methods are there and the instance does not
    decline the capability (see Recommender.declined_capabilities)."""

    def __instancecheck__(cls, obj: object) -> bool:
        if not super().__instancecheck__(obj):
            return False
        declined = getattr(obj, "declined_capabilities", None)
        return declined is None or cls not in declined()


@runtime_checkable
class FoldsIn(Protocol, metaclass=_CapabilityMeta):
    """Scores for ad-hoc histories (rows of a user x item matrix), no refit."""

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray: ...


@runtime_checkable
class ScoresSequences(Protocol, metaclass=_CapabilityMeta):
    """Next-item scores for item-index sequences, oldest first. Such a model reads a
    user's whole known history at test time (train + valid), as RecBole's leave-one-out
    does."""

    def score_sequences(self, sequences: list[np.ndarray]) -> np.ndarray: ...


@runtime_checkable
class HasItemVectors(Protocol, metaclass=_CapabilityMeta):
    """An item representation, (n_items, d); similar items are its cosine neighbours."""

    def item_vectors(self) -> np.ndarray: ...


@runtime_checkable
class ItemSimilarity(Protocol, metaclass=_CapabilityMeta):
    """The model's own item-to-item weights: how much item i raises each other item."""

    def similar_scores(self, item: int) -> np.ndarray: ...


@runtime_checkable
class InnerProduct(Protocol, metaclass=_CapabilityMeta):
    """score_users(users) == user_vectors(users) @ item_factors().T exactly, so an item
    index (exact or approximate) can answer for known users."""

    def user_vectors(self, users: np.ndarray) -> np.ndarray: ...

    def item_factors(self) -> np.ndarray: ...


@runtime_checkable
class TextSearchable(Protocol, metaclass=_CapabilityMeta):
    """Free text embedded in the space of the items' text vectors (natural-language
    search ranks items by cosine there)."""

    def text_vectors(self) -> np.ndarray: ...

    def encode_query(self, texts: list[str]) -> np.ndarray: ...


@dataclass(frozen=True)
class AddedItems:
    """What `add_items` did, in the user's item ids."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    #: ids whose rows gave no text, so the model cannot score them yet
    without_text: list[str] = field(default_factory=list)


@runtime_checkable
class SupportsAddItems(Protocol, metaclass=_CapabilityMeta):
    """A fitted model that takes new catalogue rows (item_id plus text/attribute columns)
    and can recommend them at once, without refitting. Rows with known ids update them."""

    def add_items(self, items: pd.DataFrame) -> AddedItems: ...


@runtime_checkable
class PredictsRatings(Protocol, metaclass=_CapabilityMeta):
    """Predicted ratings for (user index, item index) pairs."""

    def predict(self, user_idx: np.ndarray, item_idx: np.ndarray) -> np.ndarray: ...


@runtime_checkable
class PredictsClicks(Protocol, metaclass=_CapabilityMeta):
    """Calibrated click probabilities for (user, item) pairs, and the candidates the
    model scores for a user (its non-clicks when the user touches none of them)."""

    def candidate_lists(self, users: np.ndarray, seen: sp.csr_matrix) -> np.ndarray:
        """(len(users), c) item indices, `seen` rows left out; -1 where there are fewer."""
        ...

    def click_probabilities(
        self, users: np.ndarray, items: np.ndarray, seen: sp.csr_matrix
    ) -> np.ndarray:
        """(n, m) probabilities for `items` (n, m; -1 = none, NaN in the result)."""
        ...


@runtime_checkable
class ExplainsRanking(Protocol, metaclass=_CapabilityMeta):
    """What a ranker could not read for a user and items (missing attributes or text),
    in words, so an explanation can say what the ranking fell back on."""

    def ranking_notes(self, user_id: Any, item_ids: Sequence[str]) -> list[list[str]]: ...


@runtime_checkable
class ExplainsProfile(Protocol, metaclass=_CapabilityMeta):
    """A user vector built from the items of a history, which can be taken apart into
    the items (and their terms) that make it (lmrec.explain.profile)."""

    item_map: IdMap | None
    items: pd.DataFrame | None
    item_template: ItemTextTemplate
    user_text_weight: float

    def profile_weights(
        self, user_id: Any = None, history: Sequence[Any] | None = None
    ) -> tuple[sp.csr_matrix, np.ndarray | None, str | None]: ...

    def profile_of(self, weights: sp.csr_matrix, users: np.ndarray | None = None) -> Any: ...

    def item_similarity(self, items: np.ndarray, profile: Any) -> np.ndarray: ...
