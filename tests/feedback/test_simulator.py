"""The replay simulator: exact list propensities, the true value, estimators that find it,
bandits that learn, and `lmrec ope simulate` as a user runs it."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from lmrec.cli.main import _register_commands, app
from lmrec.data.synthetic import generate
from lmrec.errors import ConfigError, DataError
from lmrec.feedback.bandits import oracle_value, run_online, standard_bandits
from lmrec.feedback.policies import EpsilonListPolicy
from lmrec.feedback.simulator import (
    ReplayWorld,
    build_world,
    estimate,
    log_lists,
    run_ope,
    true_value,
)

_register_commands()


@pytest.fixture(scope="module")
def world() -> ReplayWorld:
    ds = generate(n_users=120, n_items=80, n_interactions=4000, seed=5, explicit=True)
    return build_world(ds, n_candidates=6, k=3)


def test_list_probabilities_are_exact_and_sum_to_one() -> None:
    order = np.array([[2, 0, 3, 1]])
    policy = EpsilonListPolicy(order, epsilon=0.3, k=2)
    user = np.zeros(1, dtype=int)
    lists = np.array(list(itertools.permutations(range(4), 2)))
    probs = policy.list_probability(np.zeros(len(lists), dtype=int), lists)
    assert probs.sum() == pytest.approx(1.0)
    assert probs[(lists == [2, 0]).all(axis=1)][0] == pytest.approx(0.7 + 0.3 / 12)
    per_position = policy.position_probabilities(user)[0]
    assert per_position.sum(axis=1) == pytest.approx([1.0, 1.0])
    # sampled frequencies of the first position match its marginals
    rng = np.random.default_rng(0)
    shown = policy.sample(np.zeros(40_000, dtype=int), rng)
    freq = np.bincount(shown[:, 0], minlength=4) / 40_000
    assert freq == pytest.approx(per_position[0], abs=0.01)
    assert (shown[:, 0] != shown[:, 1]).all()  # distinct items in a list


def test_bad_policy_settings() -> None:
    with pytest.raises(ConfigError, match="epsilon must lie in"):
        EpsilonListPolicy(np.zeros((1, 3), dtype=int), 1.5, 2)
    with pytest.raises(ConfigError, match="list length k=4"):
        EpsilonListPolicy(np.zeros((1, 3), dtype=int), 0.1, 4)


def test_world_labels_come_from_held_out_high_ratings(world: ReplayWorld) -> None:
    assert world.candidates.shape == (world.n_users, 6)
    seen = world.train.binary_csr
    assert seen[world.user_index[:, None], world.candidates].sum() == 0  # none rated in train
    assert set(np.unique(world.labels)) <= {0.0, 1.0} and world.labels.any()
    ordered = np.sort(world.candidates, axis=1)
    assert (ordered[:, 1:] != ordered[:, :-1]).all()  # distinct candidates per user


def test_true_value_is_what_the_policy_earns_on_average(world: ReplayWorld) -> None:
    policy = EpsilonListPolicy(world.popularity_order, 0.4, world.k)
    log = log_lists(world, policy, 60_000, np.random.default_rng(1))
    assert log.clicks.sum(axis=1).mean() == pytest.approx(true_value(world, policy), rel=0.03)


def test_on_policy_estimates_are_the_mean_clicks(world: ReplayWorld) -> None:
    policy = EpsilonListPolicy(world.popularity_order, 0.5, world.k)
    log = log_lists(world, policy, 3000, np.random.default_rng(2))
    rows = {e.estimator: e for e in estimate(world, log, policy, policy)}
    mean = log.clicks.sum(axis=1).mean()
    for name in ("iips", "snips", "slate-ips"):  # every weight is 1
        assert rows[name].estimate == pytest.approx(mean), name
    # DR adds the mean of the reward model's prediction under the policy minus its mean on
    # the logged items: close to zero, not exactly zero
    assert rows["dr"].estimate == pytest.approx(mean, rel=0.02)


def test_estimators_find_the_truth_of_a_different_target(world: ReplayWorld) -> None:
    logger = EpsilonListPolicy(world.popularity_order, 0.5, world.k)
    liked_first = np.argsort(-world.labels, axis=1, kind="stable")  # knows the answers
    target = EpsilonListPolicy(liked_first, 0.1, world.k)
    truth = true_value(world, target)
    assert abs(truth / true_value(world, logger) - 1) > 0.1  # the target differs
    log = log_lists(world, logger, 30_000, np.random.default_rng(3))
    rows = {e.estimator: e for e in estimate(world, log, logger, target)}
    for name in ("iips", "snips", "dr"):
        est = rows[name]
        assert est.estimate == pytest.approx(truth, rel=0.1), est
        assert est.ci_low <= truth <= est.ci_high, est


def test_run_ope_rows(world: ReplayWorld) -> None:
    sim = run_ope(world, 5000, seed=3)
    assert [r["estimator"] for r in sim.rows] == ["iips", "snips", "dm", "dr", "slate-ips"]
    assert sim.truth == true_value(
        world, EpsilonListPolicy(np.ascontiguousarray(world.model_order), 0.1, world.k)
    )
    with pytest.raises(DataError, match="impressions must be at least 1"):
        run_ope(world, 0)


def test_learning_bandits_beat_greedy_and_random(world: ReplayWorld) -> None:
    run = run_online(world, standard_bandits(world, None), 6000, seed=0)
    assert run.new_item_share is None  # this world has no new items
    curves = run.curves
    final = {name: curve[-1] for name, curve in curves.items()}
    assert final["thompson"] > final["greedy"] and final["epsilon-greedy"] > final["greedy"]
    assert final["greedy"] > final["random"]
    assert final["thompson"] / 6000 <= oracle_value(world) * 1.05
    assert all(np.all(np.diff(c) >= 0) for c in curves.values())


def test_new_items_reach_users_through_bandits_not_greedy() -> None:
    ds = generate(n_users=120, n_items=80, n_interactions=4000, seed=5, explicit=True)
    vectors = np.random.default_rng(0).normal(size=(ds.n_items, 8))
    world = build_world(ds, n_candidates=6, k=3, new_items=0.2, item_vectors=vectors)
    assert world.new_items is not None and world.new_items.any()
    assert world.train.item_counts()[world.new_items].sum() == 0  # EASE never saw them
    assert world.new_items[world.candidates[:, -2:]].all()  # the last two candidates
    assert not world.new_items[world.candidates[:, :-2]].any()
    share = run_online(world, standard_bandits(world, vectors), 3000, seed=0).new_item_share
    assert share is not None
    assert share["greedy"] == 0.0 and share["thompson"] > 0.05
    assert share["random"] == pytest.approx(2 / 6, abs=0.03)
    with pytest.raises(DataError, match="need item text embeddings"):
        build_world(ds, new_items=0.2)


def test_simulate_command_writes_rows_and_a_plot(tmp_path: Path) -> None:
    ds = generate(n_users=100, n_items=60, n_interactions=3000, seed=8, explicit=True)
    ds.to_frame().to_csv(tmp_path / "interactions.csv", index=False)
    out, png = tmp_path / "rows.json", tmp_path / "bandits.png"
    args = ["ope", "simulate", "--data", str(tmp_path / "interactions.csv")]
    args += ["--impressions", "4000", "--rounds", "800", "--no-text"]
    result = CliRunner().invoke(app, [*args, "--json", str(out), "--plot", str(png)])
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())
    assert [r["estimator"] for r in rows] == ["iips", "snips", "dm", "dr", "slate-ips"]
    keys = {"estimator", "estimate", "truth", "rel_error", "ci_low", "ci_high"}
    assert all(set(r) == keys for r in rows)
    truth = rows[0]["truth"]
    for r in rows:
        assert r["truth"] == truth and r["ci_low"] <= r["estimate"] <= r["ci_high"]
        assert r["rel_error"] == pytest.approx((r["estimate"] - truth) / truth)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "thompson" in result.output and "share of best" in result.output


def test_simulate_refuses_implicit_feedback(tmp_path: Path) -> None:
    ds = generate(n_users=30, n_items=20, n_interactions=300, seed=1)
    assert not ds.explicit
    with pytest.raises(DataError, match="needs explicit ratings"):
        build_world(ds)
    ds.to_frame()[["user_id", "item_id"]].to_csv(tmp_path / "events.csv", index=False)
    args = ["ope", "simulate", "--data", str(tmp_path / "events.csv"), "--rounds", "0"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "needs explicit ratings" in result.output
