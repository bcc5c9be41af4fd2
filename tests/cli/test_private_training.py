"""`lmrec train hybrid --set privacy.epsilon=E`: the spent budget, its accountant and its
unit are recorded with the model and shown by `lmrec models show`, `lmrec models list`
and the service's model listing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from film_catalogue import HYBRID_SETTINGS, lmrec, write_catalogue

from lmrec.encoders import TextEncoder
from lmrec.serving.app import create_app
from lmrec.serving.settings import ServeSettings


def test_private_training_is_recorded_and_shown(
    minilm: TextEncoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LMREC_CACHE_DIR", str(tmp_path / "cache"))
    data = write_catalogue(tmp_path / "films")
    reg = tmp_path / "registry"
    quick = [s for s in HYBRID_SETTINGS if not s.startswith(("epochs", "batch_size"))]
    sets = [a for s in [*quick, "epochs=3", "privacy.epsilon=3", "privacy.users_per_step=6"]
            for a in ("--set", s)]  # fmt: skip
    code, out = lmrec("train", "hybrid", "--data", data, "--protocol", "none",
                      "--out", tmp_path / "private", "--registry", reg, "--register", "films",
                      *sets)  # fmt: skip
    assert code == 0, out
    meta = json.loads((tmp_path / "private" / "model.json").read_text())
    privacy = meta["privacy"]
    assert 2.7 <= privacy["epsilon"] <= 3.03 and privacy["target_epsilon"] == 3.0
    assert privacy["delta"] == pytest.approx(1 / 18)  # one over the 18 users
    assert privacy["unit"] == "user" and privacy["accountant"] == "rdp"
    assert meta["config"]["privacy"]["epsilon"] == 3.0

    code, out = lmrec("models", "show", "films", "--registry", reg)
    assert code == 0, out
    assert f"privacy: epsilon {privacy['epsilon']:.2f}, delta 0.056 (rdp accountant" in out
    assert "unit of privacy: one user" in out and "(joint) differential privacy" in out
    code, out = lmrec("models", "list", "--registry", reg)
    assert code == 0 and f"epsilon {privacy['epsilon']:.2f}" in out
    code, out = lmrec("models", "list", "--registry", reg, "--json")
    assert json.loads(out)[0]["privacy"] == privacy

    settings = ServeSettings(home=tmp_path, registry=reg, db=f"sqlite:///{tmp_path / 'e.db'}",
                             registry_poll_seconds=0)  # fmt: skip
    with TestClient(create_app(settings)) as client:
        listed = client.get("/v1/models").json()["versions"]
    assert listed[0]["privacy"]["epsilon"] == pytest.approx(privacy["epsilon"])
    assert listed[0]["privacy"]["unit"] == "user"

    # a model trained without privacy says so
    code, out = lmrec("train", "ease", "--data", data, "--protocol", "none", "--out",
                      tmp_path / "ease", "--registry", reg, "--register", "plain")  # fmt: skip
    assert code == 0, out
    code, out = lmrec("models", "show", "plain", "--registry", reg)
    assert code == 0 and "privacy: not private (epsilon infinite)" in out
