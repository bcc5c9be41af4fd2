"""The `federated` extra's tests, run in their own virtual environment
(`make test-federated`: flwr pins ray and the web packages apart from lmrec's own)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lmrec.data.synthetic import generate

Invoke = Callable[..., tuple[int, str]]


@pytest.fixture(scope="session")
def topics_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 users in 4 taste groups over 80 items of nearly flat popularity, so a model
    that learns the groups beats the popularity list clearly."""
    ds = generate(
        n_users=120, n_items=80, n_interactions=3000, seed=3,
        n_topics=4, topic_focus=0.9, popularity_exponent=0.5,
    )  # fmt: skip
    out = tmp_path_factory.mktemp("topics")
    ds.to_frame().to_csv(out / "interactions.csv", index=False)
    return out
