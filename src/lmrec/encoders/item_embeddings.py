"""Item text embeddings for intra-list diversity and the MMR re-ranker: the default text
model (all-MiniLM-L6-v2) over each item's text, cached on disk like every model's."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd


def item_text_vectors(
    items: pd.DataFrame | None, say: Callable[[str], None] | None = None
) -> tuple[np.ndarray | None, str]:
    """(n_items, d) unit-length embeddings of the items' text (rows in the table's order),
    or None with the reason (no item table, no text in it, or the text extra not
    installed). Items without text get a zero row, which counts as unlike every other
    item."""
    if items is None or len(items.columns) <= 1:
        return None, "the items have no text to embed"
    try:
        from lmrec.encoders.cache import EmbeddingCache, encode_cached
        from lmrec.encoders.config import EncoderConfig
        from lmrec.encoders.factory import get_encoder
        from lmrec.encoders.text import default_item_template
    except ImportError as exc:  # sentence-transformers missing: the text extra
        return None, f"the text extra is not installed ({exc.name})"
    texts = default_item_template(items).render(items)
    present = np.flatnonzero([bool(t) for t in texts])
    if not present.size:
        return None, "the items have no text to embed"
    if say is not None:
        say(f"embedding the text of {len(present):,} items")
    config = EncoderConfig()
    try:
        encoder = get_encoder(config)
    except ImportError as exc:
        return None, f"the text extra is not installed ({exc.name})"
    out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
    out[present] = encode_cached(
        encoder, [texts[int(i)] for i in present], EmbeddingCache(config.cache_dir)
    )
    return out, ""
