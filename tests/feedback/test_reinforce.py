"""A list policy learned from logged feedback (off-policy REINFORCE with the top-K
correction) in the replay simulator, and `lmrec ope reinforce` as a user runs it."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from lmrec.cli.main import _register_commands, app
from lmrec.data.synthetic import generate
from lmrec.errors import ConfigError
from lmrec.feedback.policies import EpsilonListPolicy
from lmrec.feedback.reinforce import (
    LEFT_OUT,
    VARIANTS,
    ReinforceSettings,
    fit_supervised,
    list_values,
    snips_value,
    train_reinforce,
    update_weight,
)
from lmrec.feedback.simulator import ReplayWorld, build_world, log_lists

_register_commands()


def test_top_k_factor_is_the_slope_of_being_among_k_draws() -> None:
    """K (1 - pi)^(K-1) is d/dpi of 1 - (1 - pi)^K, the chance of a being among K
    draws; an item the policy already favours gains less than a rare one."""
    pi = torch.tensor([0.05, 0.3, 0.8], dtype=torch.float64)
    ones = torch.ones(3, dtype=torch.float64)
    on, off = ReinforceSettings(cap=100.0), ReinforceSettings(cap=100.0, top_k=False)
    weight = update_weight(pi, ones, ones, 3, on) / update_weight(pi, ones, ones, 3, off)
    h = 1e-6
    slope = ((1 - (1 - (pi + h)) ** 3) - (1 - (1 - (pi - h)) ** 3)) / (2 * h)
    assert torch.allclose(weight, slope, atol=1e-6)
    assert weight[0] > weight[1] > weight[2]
    # the importance ratio pi / beta is capped
    capped = update_weight(pi, torch.full((3,), 1e-3), ones, 3, ReinforceSettings(cap=10.0))
    assert torch.allclose(capped, 10.0 * slope, atol=1e-5)
    with pytest.raises(ConfigError, match="holdout"):
        ReinforceSettings(holdout=1.0)


@pytest.fixture(scope="module")
def world() -> ReplayWorld:
    """Every user has the same six candidates; only the one in slot 4 is ever liked, so
    what to show is learned from clicks, not from behaviour."""
    ds = generate(n_users=120, n_items=60, n_interactions=3000, seed=3, explicit=True)
    real = build_world(ds, n_candidates=6, k=2)
    candidates = np.tile(real.candidates[0], (real.n_users, 1))
    labels = np.zeros(candidates.shape)
    labels[:, 4] = 1.0
    popularity = np.tile(np.arange(6), (real.n_users, 1))
    return dataclasses.replace(
        real, candidates=candidates, labels=labels, popularity_order=popularity
    )


def test_policy_learns_from_logged_clicks_what_behaviour_does_not_show(
    world: ReplayWorld,
) -> None:
    logger = EpsilonListPolicy(world.popularity_order, 0.5, world.k)
    log = log_lists(world, logger, 3000, np.random.default_rng(0))
    base = fit_supervised(world, epochs=2, seed=0)
    settings = ReinforceSettings(epochs=8, lr=0.01, batch_size=256, seed=0)
    logits = train_reinforce(world, log, logger, base, settings)
    assert logits.shape == world.candidates.shape
    # the liked slot is in (almost) every user's list: the learned value nears the best
    values = list_values(world, logits)
    assert values.mean() >= 0.9 * world.examination.max()
    # and the held-out SNIPS estimate that chose the epoch agrees with the labels
    loggers_first = -np.tile(np.arange(6.0), (world.n_users, 1))
    assert snips_value(world, log, logger, logits) > snips_value(world, log, logger, loggers_first)


def test_reinforce_command_compares_with_supervised_sasrec(tmp_path: Path) -> None:
    ds = generate(n_users=80, n_items=60, n_interactions=2000, seed=8, explicit=True)
    ds.to_frame().to_csv(tmp_path / "ratings.csv", index=False)
    out = tmp_path / "rows.json"
    args = ["ope", "reinforce", "--data", str(tmp_path / "ratings.csv")]
    args += ["--impressions", "2000", "--epochs", "2", "--sasrec-epochs", "2"]
    result = CliRunner().invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())
    names = [r["policy"] for r in rows]
    assert names[1:3] == ["EASE, greedy", "SASRec, supervised"]
    assert names[3:6] == list(VARIANTS) and names[6] == LEFT_OUT
    assert names[-1] == "best lists (from the labels)"
    best = rows[-1]["clicks per list"]
    supervised = rows[2]["clicks per list"]
    for row in rows:
        assert 0.0 <= row["clicks per list"] <= best + 1e-12
        assert row["share of best"] == pytest.approx(row["clicks per list"] / best)
        # (the left-out row is compared with SASRec on the left-out users only)
        if row["vs supervised SASRec"] is not None and row["policy"] != LEFT_OUT:
            assert row["vs supervised SASRec"] == pytest.approx(row["clicks per list"] - supervised)
            assert 0.0 <= row["p (paired)"] <= 1.0 or np.isnan(row["p (paired)"])
    assert "REINFORCE" in result.output
