"""Item text embeddings for intra-list diversity (and the MMR re-ranker): the default text
model (all-MiniLM-L6-v2) over each item's text, cached on disk like every model's."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from lmrec.data.dataset import Dataset


def item_text_vectors(
    dataset: Dataset, say: Callable[[str], None] | None = None
) -> tuple[np.ndarray | None, str]:
    """(n_items, d) unit-length embeddings of the items' text, or None with the reason
    (no item table, no text in it, or the text extra not installed). Items without text
    get a zero row, which counts as unlike every other item."""
    items = dataset.items
    if items is None or len(items.columns) <= 1:
        return None, "the items have no text to embed"
    try:
        from lmrec.encoders import EncoderConfig, get_encoder
        from lmrec.encoders.cache import EmbeddingCache, encode_cached
        from lmrec.encoders.text import default_item_template
    except ImportError as exc:  # sentence-transformers missing: the text extra
        return None, f"the text extra is not installed ({exc.name})"
    texts = default_item_template(items).render(items)
    present = np.flatnonzero([bool(t) for t in texts])
    if not present.size:
        return None, "the items have no text to embed"
    if say is not None:
        say(f"embedding the text of {len(present):,} items for intra-list diversity")
    config = EncoderConfig()
    encoder = get_encoder(config)
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    out[present] = encode_cached(
        encoder, [texts[int(i)] for i in present], EmbeddingCache(config.cache_dir)
    )
    return out, ""
