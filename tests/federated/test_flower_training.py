"""Federated training on Flower's simulation engine, through the command line."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from tests.federated.conftest import Invoke

# the `federated` extra lives in its own venv (make test-federated); skipped elsewhere
pytest.importorskip("flwr")

FACTORS = 4
PLAIN = [
    "--set", "engine=flower", "--set", f"factors={FACTORS}", "--set", "rounds=20",
    "--set", "clients_per_round=40", "--set", "server_lr=1.0", "--set", "user_reg=5",
]  # fmt: skip


def _npy_bytes(array: np.ndarray) -> int:
    buffer = io.BytesIO()
    np.save(buffer, array)
    return len(buffer.getvalue())


def _ndcg(invoke: Invoke, model_dir: Path) -> float:
    code, text = invoke("evaluate", model_dir, "--json")
    assert code == 0, text
    return float(json.loads((model_dir / "metrics.json").read_text())["ndcg@10"])


def test_flower_rounds_learn_and_keep_user_vectors_on_clients(
    invoke: Invoke, topics_dir: Path, tmp_path: Path
) -> None:
    fed, pop = tmp_path / "fed", tmp_path / "pop"
    code, text = invoke("train", "fedmf", "--data", topics_dir, *PLAIN, "--out", fed)
    assert code == 0, text
    assert invoke("train", "pop", "--data", topics_dir, "--out", pop)[0] == 0
    # held-out test part of the same split (seed 42): the groups, not popularity
    assert _ndcg(invoke, fed) > _ndcg(invoke, pop) + 0.05

    with np.load(fed / "params.npz") as params:
        assert params.files == ["item_factors_"]
        n_items = params["item_factors_"].shape[0]
    assert n_items == json.loads((fed / "model.json").read_text())["n_items"]

    wire = json.loads((fed / "federation.json").read_text())
    assert wire["engine"] == "flower" and wire["rounds"] == 20
    assert 0 < wire["client_rounds"] <= 20 * 120
    # down: the float32 item factors as .npy, the same for every client
    factors_npy = _npy_bytes(np.zeros((n_items, FACTORS), np.float32))
    assert wire["bytes_down_total"] == wire["client_rounds"] * factors_npy
    # up: two .npy arrays, an int32 row index and FACTORS float32 values per item row
    headers = 2 * _npy_bytes(np.zeros(0, np.float32))
    rows_up = wire["bytes_up_total"] - wire["client_rounds"] * headers
    assert rows_up > 0 and rows_up % (4 + 4 * FACTORS) == 0
    assert wire["bytes_up_per_client_round"] <= headers + n_items * (4 + 4 * FACTORS)

    code, text = invoke("recommend", fed, "--history", "1,2,3", "-k", "5", "--json")
    assert code == 0, text


def test_noise_on_the_updates_is_recorded_with_its_epsilon(
    invoke: Invoke, topics_dir: Path, tmp_path: Path
) -> None:
    out = tmp_path / "private"
    noisy = [*PLAIN, "--set", "noise_multiplier=1.1", "--set", "clip_norm=0.5"]
    code, text = invoke("train", "fedmf", "--data", topics_dir, *noisy, "--out", out)
    assert code == 0, text
    privacy = json.loads((out / "model.json").read_text())["privacy"]
    assert privacy["noise_multiplier"] == 1.1 and privacy["clip_norm"] == 0.5
    assert privacy["unit"] == "user" and privacy["sample_rate"] == 40 / 120
    assert 0 < privacy["epsilon"] < 1e3 and privacy["delta"] == 1e-5
    # more rounds at the same noise spend more
    code, text = invoke(
        "train", "fedmf", "--data", topics_dir, *noisy, "--set", "rounds=40",
        "--set", "engine=local", "--out", tmp_path / "longer",
    )  # fmt: skip
    assert code == 0, text
    longer = json.loads((tmp_path / "longer" / "model.json").read_text())["privacy"]
    assert longer["epsilon"] > privacy["epsilon"]
