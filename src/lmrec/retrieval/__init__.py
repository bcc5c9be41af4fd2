"""Exact and approximate (FAISS HNSW) item indexes behind one interface."""

from lmrec.retrieval.dot import DotProductModel, as_dot_product
from lmrec.retrieval.index import (
    DEFAULT_ANN_THRESHOLD,
    HNSWIndex,
    ItemIndex,
    build_index,
    exact_search,
)

__all__ = [
    "DEFAULT_ANN_THRESHOLD",
    "DotProductModel",
    "HNSWIndex",
    "ItemIndex",
    "as_dot_product",
    "build_index",
    "exact_search",
]
