"""Item text embeddings of a dataset's catalogue, for intra-list diversity (and the MMR
re-ranker); see lmrec.encoders.item_embeddings."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lmrec.data.dataset import Dataset
from lmrec.encoders.item_embeddings import item_text_vectors as _item_text_vectors


def item_text_vectors(
    dataset: Dataset, say: Callable[[str], None] | None = None
) -> tuple[np.ndarray | None, str]:
    """(n_items, d) unit-length embeddings of the items' text, or None with the reason
    (no item table, no text in it, or the text extra not installed)."""
    return _item_text_vectors(dataset.items, say)
