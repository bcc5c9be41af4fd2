"""Embedding pruning: items below a training count share hashed ID rows, so the ID table
grows with the popular items; new items still come in by their text."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from lmrec.core.query import Query
from lmrec.data.dataset import Dataset, from_frame
from lmrec.models.artifacts import load_model
from lmrec.models.compressed.onnx_sequence import OnnxSequenceRecommender
from lmrec.models.registry import create_model
from lmrec.models.sequence.base import pruned_rows

from .sequence_toys import cycle_data, next_after, with_vectors

FAST = {"hidden": 16, "heads": 1, "n_layers": 1, "dropout": 0.0, "lr": 0.01, "threads": 1}


def _with_rare_items(n_rare: int = 30) -> Dataset:
    """The cycle (six items, every user walks it) plus `n_rare` items seen once each."""
    frame = cycle_data().to_frame()
    rare = pd.DataFrame(
        {
            "user_id": [f"u{i % 40}" for i in range(n_rare)],
            "item_id": [f"rare{i}" for i in range(n_rare)],
            "timestamp": 50,  # before every cycle step
        }
    )
    return from_frame(pd.concat([frame, rare], ignore_index=True))


def test_pruned_rows_give_own_rows_then_shared_buckets() -> None:
    own = np.array([True, False, True, False, False, True])
    rows = pruned_rows(own, buckets=2)
    assert rows[own].tolist() == [1, 2, 3]
    assert set(rows[~own].tolist()) <= {4, 5}
    # items added later (not own) fall in the same buckets; own rows do not move
    grown = pruned_rows(np.concatenate([own, [False, False]]), buckets=2)
    assert grown[: len(own)].tolist() == rows.tolist() and set(grown[6:]) <= {4, 5}


def test_rare_items_share_rows_and_the_head_is_still_learnt(tmp_path: Path) -> None:
    data = _with_rare_items()
    full = create_model("sasrec", {**FAST, "epochs": 30}).fit(data)
    pruned = create_model(
        "sasrec", {**FAST, "epochs": 30, "min_item_count": 2, "rare_buckets": 2}
    ).fit(data)
    table = pruned.net_.items.id_emb.weight
    assert table.shape[0] == 6 + 2 + 1  # six cycle items, two buckets, padding
    assert full.net_.items.id_emb.weight.shape[0] == data.n_items + 1
    assert pruned.weights_.size < full.weights_.size - 25 * 16
    assert next_after(pruned, ["i0", "i1", "i2"]) == "i3"
    # rare items are still scored (through their bucket), and the model saves and loads
    scores = pruned.score_sequences([pruned.item_map.lookup(["i0", "i1"])])[0]
    assert np.isfinite(scores).all()
    pruned.save(tmp_path / "m")
    np.testing.assert_allclose(  # float32 sums may differ in the last bit after a load
        load_model(tmp_path / "m").score_users(np.arange(5)),
        pruned.score_users(np.arange(5)),
        rtol=1e-5,
        atol=1e-5,
    )
    # the ONNX export reads the same vectors
    exported = OnnxSequenceRecommender.from_model(pruned, "none", parity_users=10)
    assert exported.parity_ is not None and exported.parity_["top10_overlap"] == 1.0


def test_new_items_come_in_by_text_with_a_pruned_table() -> None:
    data = with_vectors(_with_rare_items())
    config = {
        **FAST,
        "epochs": 40,
        "item_repr": "fused",
        "text": {"vectors_column": "vec"},
        "min_item_count": 2,
    }
    model = create_model("sasrec", config).fit(data)
    rows_before = model.net_.items.id_emb.weight.shape[0]
    i3 = model.items.loc[model.item_map.index_of("i3"), "vec"]
    added = model.add_items(pd.DataFrame({"item_id": ["late-i3"], "vec": [i3]}))
    assert added.added == ["late-i3"] and not added.without_text
    assert model.net_.items.id_emb.weight.shape[0] == rows_before  # the table did not grow
    scores = model.score_sequences([model.item_map.lookup(["i0", "i1", "i2"])])[0]
    assert np.isfinite(scores[-1])
    recs = model.recommend(Query(history=["i0", "i1", "i2"], k=3))
    assert "late-i3" in recs.item_ids


@pytest.mark.parametrize("bad", [{"min_item_count": -1}, {"rare_buckets": 0}])
def test_bad_pruning_settings_name_the_key(bad: dict[str, int]) -> None:
    from lmrec.errors import ConfigError

    with pytest.raises(ConfigError, match=next(iter(bad))):
        create_model("sasrec", bad)
