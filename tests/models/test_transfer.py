"""A sequence model trained on one catalogue, applied and fine-tuned on another."""

from __future__ import annotations

from pathlib import Path

import pytest

from lmrec.data.dataset import Dataset, from_frame
from lmrec.errors import ConfigError
from lmrec.models.registry import create_model

from .sequence_toys import cycle_data, next_after, with_vectors

FAST = {"hidden": 16, "heads": 1, "n_layers": 1, "dropout": 0.0, "lr": 0.01, "threads": 1}
TEXT = {**FAST, "item_repr": "text", "text": {"vectors_column": "vec"}}


def renamed(data: Dataset, prefix: str) -> Dataset:
    """The same walks over a catalogue with other ids (and the same item 'text'), in a
    different order of first appearance, as another shop with the same kinds of items."""
    frame = data.to_frame()
    frame["item_id"] = prefix + frame["item_id"]
    frame = frame.sort_values(["user_id", "timestamp"], ascending=[False, True])
    items = data.items.assign(item_id=prefix + data.items["item_id"])  # type: ignore[union-attr]
    return from_frame(frame, items=items.iloc[::-1].reset_index(drop=True))


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    model = create_model("sasrec", {**TEXT, "epochs": 40}).fit(with_vectors(cycle_data()))
    assert next_after(model, ["i0", "i1", "i2"]) == "i3"
    return model.save(tmp_path_factory.mktemp("src") / "m")


def test_zero_shot_on_a_catalogue_it_never_saw(source: Path) -> None:
    other = renamed(with_vectors(cycle_data()), "shop-")
    model = create_model("sasrec", {**TEXT, "epochs": 0, "init_from": str(source)})
    model.fit(other)
    assert model.training_ is None  # nothing was trained here
    assert next_after(model, ["shop-i0", "shop-i1", "shop-i2"]) == "shop-i3"
    # without the source weights the same untrained network knows nothing of the cycle
    fresh = create_model("sasrec", {**TEXT, "epochs": 1, "lr": 1e-6}).fit(other)
    hits = [
        next_after(fresh, [f"shop-i{s % 6}", f"shop-i{(s + 1) % 6}"]) == f"shop-i{(s + 2) % 6}"
        for s in range(6)
    ]
    assert sum(hits) < 6


def test_fine_tuning_starts_from_the_source(source: Path) -> None:
    other = renamed(with_vectors(cycle_data()), "shop-")
    model = create_model("sasrec", {**TEXT, "epochs": 2, "init_from": str(source)}).fit(other)
    assert model.training_ is not None and model.training_.epochs_run == 2
    assert next_after(model, ["shop-i3", "shop-i4", "shop-i5"]) == "shop-i0"


def test_what_cannot_be_transferred_is_a_clear_error(source: Path, tmp_path: Path) -> None:
    data = with_vectors(cycle_data())
    with pytest.raises(ConfigError, match="epochs=0 trains nothing"):
        create_model("sasrec", {**TEXT, "epochs": 0})
    with pytest.raises(ConfigError, match="hidden"):
        create_model("sasrec", {**TEXT, "hidden": 8, "init_from": str(source)}).fit(data)
    ids_only = create_model("sasrec", {**FAST, "epochs": 1}).fit(cycle_data())
    ids_dir = ids_only.save(tmp_path / "ids")
    with pytest.raises(ConfigError, match="only by their ids"):
        create_model("sasrec", {**TEXT, "init_from": str(ids_dir)}).fit(data)
    gru = {k: v for k, v in TEXT.items() if k not in ("heads", "n_layers")}
    with pytest.raises(ConfigError, match="'gru4rec' model from a 'gru4rec'"):
        create_model("gru4rec", {**gru, "init_from": str(source)}).fit(data)
