"""Reusable checks for any Recommender and tiny datasets with known answers.

`RecommenderContract` needs pytest; import it from test code only.
"""

from lmrec.testing.toy import ToyData, blocks, item_table, rng_interactions

__all__ = ["RecommenderContract", "ToyData", "blocks", "item_table", "rng_interactions"]


def __getattr__(name: str) -> object:
    # Lazy, so `lmrec.testing.toy` works without pytest installed.
    if name == "RecommenderContract":
        from lmrec.testing.contract import RecommenderContract

        return RecommenderContract
    raise AttributeError(name)
