"""Exact and approximate (FAISS HNSW) item indexes behind one interface."""

from lmrec.retrieval.index import (
    DEFAULT_ANN_THRESHOLD,
    HNSWIndex,
    ItemIndex,
    build_index,
    exact_search,
)

__all__ = [
    "DEFAULT_ANN_THRESHOLD",
    "HNSWIndex",
    "ItemIndex",
    "build_index",
    "exact_search",
]
