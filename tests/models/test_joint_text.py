"""Joint training: the text encoder's top layer trains with the sequence model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from lmrec.core.options import FitOptions
from lmrec.encoders.base import TextEncoder
from lmrec.encoders.config import EncoderConfig
from lmrec.encoders.layers import split_encoder
from lmrec.errors import ConfigError
from lmrec.models.artifacts import load_model
from lmrec.models.registry import create_model
from lmrec.testing import blocks

JOINT = {
    "hidden": 16,
    "heads": 1,
    "n_layers": 1,
    "dropout": 0.0,
    "lr": 0.003,
    "epochs": 3,
    "item_repr": "text",
    "text_tune_layers": 1,
}


def _top_layer(model: object) -> dict[str, torch.Tensor]:
    tower = model.net_.items.tower  # type: ignore[attr-defined]
    return {k: v.detach().clone() for k, v in tower.layers.state_dict().items()}


def test_the_top_layer_learns_and_is_saved(minilm: TextEncoder, tmp_path: Path) -> None:
    toy = blocks()
    options = FitOptions(threads=1)
    model = create_model("sasrec", JOINT).fit(toy.train, options=options)
    assert model.training_ is not None and model.training_.epochs_run == 3
    # the encoder's top layer, copied in, moved away from its pretrained weights
    _, pretrained = split_encoder(EncoderConfig(), ["x"], 1)
    trained = _top_layer(model)
    moved = {k: float((trained[k] - v).abs().max()) for k, v in pretrained.state_dict().items()}
    assert set(moved) == set(trained) and max(moved.values()) > 1e-4
    # saved with the model and rebuilt on load (the lower layers' states are recomputed)
    loaded = load_model(model.save(tmp_path / "joint"), options=options)
    users = np.arange(model.n_users)
    np.testing.assert_allclose(loaded.score_users(users), model.score_users(users), atol=1e-5)


def test_new_items_get_vectors_from_the_trained_tower(minilm: TextEncoder) -> None:
    model = create_model("sasrec", JOINT).fit(blocks().train, options=FitOptions(threads=1))
    report = model.add_items(
        pd.DataFrame({"item_id": ["fresh"], "title": ["Funny film 77"], "genres": ["Comedy"]})
    )
    assert report.added == ["fresh"] and report.without_text == []
    scores = model.score_users(np.arange(3))
    assert np.isfinite(scores[:, model.item_map.index_of("fresh")]).all()


def test_joint_training_needs_item_text() -> None:
    with pytest.raises(ConfigError, match="needs item text"):
        create_model("sasrec", {**JOINT, "text": {"vectors_column": "vec"}}).fit(blocks().train)
