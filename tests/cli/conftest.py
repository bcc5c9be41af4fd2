"""A small explicit-ratings dataset on disk, shaped like a user's own export (the `invoke`
fixtures that run the CLI are in tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmrec.data.synthetic import generate


@pytest.fixture(scope="session")
def ratings_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """interactions.csv (user_id,item_id,value,timestamp) + items.csv (item_id,title,genres)."""
    ds = generate(n_users=80, n_items=60, n_interactions=2400, seed=3, explicit=True)
    out = tmp_path_factory.mktemp("ratings")
    ds.to_frame().to_csv(out / "interactions.csv", index=False)
    assert ds.items is not None
    ds.items[["item_id", "title", "genres"]].to_csv(out / "items.csv", index=False)
    return out
