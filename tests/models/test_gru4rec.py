"""GRU4Rec: the shared contract plus next-item checks on a deterministic cycle."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest

from lmrec.data.dataset import Dataset
from lmrec.models.artifacts import load_model
from lmrec.models.registry import create_model
from lmrec.testing import RecommenderContract

from .sequence_toys import cycle_data, next_after, with_vectors

FAST = {"hidden": 16, "dropout": 0.0, "lr": 0.02, "threads": 1}


class TestGRU4RecContract(RecommenderContract):
    model_name = "gru4rec"
    model_config: ClassVar[dict[str, Any]] = {**FAST, "epochs": 40, "max_len": 16}
    stochastic = True


@pytest.fixture(scope="module")
def cycle() -> Dataset:
    return cycle_data()


def test_learns_a_cycle(cycle: Dataset) -> None:
    # without the repeat offset, so that the reversed history's answer (i1, which follows
    # i0) is not pushed down for having been seen
    model = create_model("gru4rec", {**FAST, "epochs": 30, "repeat_bias": False}).fit(cycle)
    assert next_after(model, ["i0", "i1", "i2"]) == "i3"
    assert next_after(model, ["i4"]) == "i5"
    assert next_after(model, ["i2", "i1", "i0"]) != "i3"


def test_padding_does_not_change_states(cycle: Dataset) -> None:
    """A short sequence scores the same alone and in a batch with a longer one."""
    model = create_model("gru4rec", {**FAST, "epochs": 2}).fit(cycle)
    short, long = np.array([0, 1]), np.array([2, 3, 4, 5, 0, 1])
    alone = model.score_sequences([short])
    batched = model.score_sequences([long, short])[1:]
    np.testing.assert_allclose(alone, batched, rtol=1e-5, atol=1e-6)


def test_new_items_through_text_and_round_trip(cycle: Dataset, tmp_path: Path) -> None:
    twins = {f"new-i{k}": f"i{k}" for k in range(6)}
    data = with_vectors(cycle, extra=twins)
    config = {**FAST, "epochs": 40, "item_repr": "fused", "text": {"vectors_column": "vec"}}
    model = create_model("gru4rec", config).fit(data)
    assert next_after(model, ["i0", "i1", "i2"]) == "i3"
    scores = model.score_sequences([model.item_map.lookup(["i0", "i1", "i2"])])[0]
    new = model.item_map.lookup(list(twins))
    assert list(twins)[int(np.argmax(scores[new]))] == "new-i3"
    model.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    np.testing.assert_array_equal(loaded.score_users(np.arange(5)), model.score_users(np.arange(5)))
