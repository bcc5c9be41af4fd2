"""The off-policy estimators against values worked out by hand, and their intervals."""

from __future__ import annotations

import numpy as np
import pytest

from lmrec.errors import DataError
from lmrec.feedback import (
    direct_method,
    doubly_robust,
    independent_position_ips,
    ips,
    slate_ips,
    snips,
)
from lmrec.feedback.estimators import bootstrap, ratio_statistic

# three logged single actions: w = pe / p0 = [2, 2, 0.5]
R = np.array([1.0, 0.0, 1.0])
P0 = np.array([0.5, 0.25, 0.5])
PE = np.array([1.0, 0.5, 0.25])
Q = np.array([0.5, 0.1, 0.6])  # reward model on the logged actions
QE = np.array([0.3, 0.2, 0.4])  # reward model's expectation under the target


def test_single_action_estimators_by_hand() -> None:
    assert ips(R, PE, P0).estimate == pytest.approx((2 * 1 + 2 * 0 + 0.5 * 1) / 3)
    assert snips(R, PE, P0).estimate == pytest.approx(2.5 / 4.5)
    assert direct_method(QE).estimate == pytest.approx(0.3)
    # qe + w (r - q) = 1.3, 0.0, 0.6
    assert doubly_robust(R, PE, P0, Q, QE).estimate == pytest.approx(1.9 / 3)


def test_dr_is_ips_when_the_reward_model_is_zero_and_dm_when_weights_are_zero() -> None:
    zero = np.zeros(3)
    assert doubly_robust(R, PE, P0, zero, zero).estimate == pytest.approx(ips(R, PE, P0).estimate)
    never = np.zeros(3)  # the target never takes the logged actions
    assert doubly_robust(R, never, P0, Q, QE).estimate == pytest.approx(QE.mean())


def test_list_estimators_by_hand() -> None:
    r = np.array([[1.0, 0.0], [0.0, 1.0]])
    p0 = np.array([[0.5, 0.5], [0.25, 0.5]])
    pe = np.array([[1.0, 0.0], [0.5, 1.0]])  # w = [[2, 0], [2, 2]]
    assert independent_position_ips(r, pe, p0).estimate == pytest.approx((2 + 2) / 2)
    # per position: (2*1 + 2*0) / (2 + 2) + (0 + 2*1) / (0 + 2)
    assert snips(r, pe, p0).estimate == pytest.approx(0.5 + 1.0)
    # whole lists: W = [0.5 / 0.25, 0.1 / 0.2]; each list earned one click
    est = slate_ips(r, np.array([0.5, 0.1]), np.array([0.25, 0.2]))
    assert est.estimate == pytest.approx((2 * 1 + 0.5 * 1) / 2)
    assert est.estimator == "slate-ips"


def test_on_policy_ips_is_the_mean_reward() -> None:
    rng = np.random.default_rng(0)
    r = rng.binomial(1, 0.3, 500).astype(float)
    p = rng.uniform(0.1, 1, 500)
    assert ips(r, p, p).estimate == pytest.approx(r.mean())
    assert snips(r, p, p).estimate == pytest.approx(r.mean())


def test_interval_holds_the_estimate_and_repeats_with_the_seed() -> None:
    rng = np.random.default_rng(1)
    r = rng.binomial(1, 0.2, 2000).astype(float)
    p0 = rng.uniform(0.2, 0.8, 2000)
    pe = rng.uniform(0.2, 0.8, 2000)
    a, b = snips(r, pe, p0, seed=3), snips(r, pe, p0, seed=3)
    assert a == b
    assert a.ci_low < a.estimate < a.ci_high
    # the percentile interval of a mean is close to the normal one: +-1.96 standard errors
    est = ips(r, pe, p0)
    half = 1.96 * (r * pe / p0).std() / np.sqrt(2000)
    assert est.ci_high - est.ci_low == pytest.approx(2 * half, rel=0.15)


def test_constant_rewards_give_a_point_interval() -> None:
    est = direct_method(np.full(50, 0.25))
    assert (est.ci_low, est.estimate, est.ci_high) == pytest.approx((0.25, 0.25, 0.25))


def test_bad_inputs_name_the_array() -> None:
    with pytest.raises(DataError, match="logging propensities must lie in"):
        ips(R, PE, np.array([0.5, 0.0, 0.5]))
    with pytest.raises(DataError, match="target propensities has 2 rows, the rewards have 3"):
        ips(R, PE[:2], P0)
    with pytest.raises(DataError, match="rewards holds NaN"):
        ips(np.array([1.0, np.nan, 0.0]), PE, P0)
    with pytest.raises(DataError, match="one number per logged list"):
        slate_ips(np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2)))
    with pytest.raises(DataError, match="no logged rows"):
        ips(np.array([]), np.array([]), np.array([]))


def test_statistics_share_resamples_and_match_their_single_runs() -> None:
    rng = np.random.default_rng(4)
    r = rng.binomial(1, 0.3, 400).astype(float)
    p0 = rng.uniform(0.2, 0.9, 400)
    pe = rng.uniform(0.2, 0.9, 400)
    w = pe / p0
    features = np.column_stack([w * r, np.ones(400), w])
    both = bootstrap(
        features,
        {
            "ips": ratio_statistic(1),
            "snips": lambda s: float(s[0] / s[2]),
        },
        seed=7,
    )
    assert both[0] == ips(r, pe, p0, seed=7)
    assert both[1] == snips(r, pe, p0, seed=7)
