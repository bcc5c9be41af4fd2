"""Two-stage ranking: a retriever's candidates re-ordered by a click model (`rerank`)."""
