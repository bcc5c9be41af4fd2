"""fedmf's contract, run by the in-process engine (no Flower in this environment; the
Flower engine is tested in tests/federated, in the `federated` extra's own venv)."""

import sys
from typing import Any, ClassVar

import numpy as np
import pytest

from lmrec.errors import ConfigError
from lmrec.models.federated.fedmf import FedMF
from lmrec.testing import RecommenderContract, blocks


class TestFedMF(RecommenderContract):
    model_name = "fedmf"
    model_config: ClassVar[dict[str, Any]] = {
        "engine": "local",
        "factors": 6,
        "rounds": 60,
        "clients_per_round": 1000,
        "user_reg": 1.0,
        "server_lr": 0.5,
    }
    stochastic = True
    quality_exact = False


def test_the_artifact_holds_item_factors_and_no_user_vectors(tmp_path: Any) -> None:
    data = blocks()
    model = FedMF(engine="local", factors=4, rounds=5).fit(data.train)
    model.save(tmp_path / "m")
    with np.load(tmp_path / "m" / "params.npz") as params:
        assert sorted(params.files) == ["item_factors_"]
        assert params["item_factors_"].shape == (data.train.n_items, 4)


def test_noise_without_a_clip_is_refused_naming_the_fix() -> None:
    with pytest.raises(ConfigError, match="clip_norm"):
        FedMF(noise_multiplier=1.0)


def test_the_flower_engine_without_flower_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "flwr", None)  # as if the extra were not installed
    with pytest.raises(ConfigError, match=r"lmrec\[federated\]"):
        FedMF(engine="flower", rounds=1).fit(blocks().train)
