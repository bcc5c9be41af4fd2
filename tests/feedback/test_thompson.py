"""Thompson sampling's pieces: the rank prior, the draw, and the Monte Carlo estimate of
each shown item's chance at its position, checked against exact values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from lmrec.errors import ConfigError
from lmrec.feedback.exploration import parse_policy
from lmrec.feedback.thompson import (
    beta_parameters,
    draw_top,
    estimate_propensities,
    position_chances,
    rank_prior,
)


def test_the_prior_follows_the_models_order_at_the_versions_rate() -> None:
    prior = rank_prior(100, 10, total_looks=10_000, total_clicks=500)
    assert np.all(np.diff(prior) <= 0)  # the model's first candidate is believed most
    assert prior[:10].mean() == pytest.approx(501 / 10_010)  # the shown positions: the rate
    assert rank_prior(0, 10, 0, 0).shape == (0,)


def test_counts_move_the_posterior_from_the_prior() -> None:
    prior = np.array([0.2, 0.2])
    a, b = beta_parameters(np.array([0.0, 100.0]), np.array([0.0, 90.0]), prior, 2.0)
    assert a / (a + b) == pytest.approx([0.2, 90.4 / 102])
    assert a + b == pytest.approx([2.0, 102.0])  # the prior is worth two looks


def test_position_chances_sum_to_one_over_candidates_at_each_position() -> None:
    rng = np.random.default_rng(0)
    a, b = np.linspace(1, 5, 30), np.linspace(9, 2, 30)
    chances = position_chances(a, b, 10, rng, redraws=300)
    assert chances.shape == (30, 10)
    assert chances.sum(axis=0) == pytest.approx(np.ones(10))
    assert chances.sum(axis=1).max() <= 1.0 + 1e-12  # an item holds at most one position


def test_estimated_propensities_lie_in_zero_one() -> None:
    rng = np.random.default_rng(1)
    a, b = np.array([50.0, 1.0, 1.0, 0.1]), np.array([1.0, 50.0, 5.0, 9.0])
    shown = draw_top(a, b, 3, rng)
    assert shown[0] == 0  # Beta(50, 1) beats the others almost surely
    p = estimate_propensities(a, b, shown, rng)
    assert np.all((p > 0) & (p <= 1))
    assert p[0] == pytest.approx(1.0, abs=0.01)


def test_the_estimate_is_near_the_exact_chance_with_two_candidates() -> None:
    """P(first shown first) = P(X1 > X2) = integral of f1(x) F2(x) dx for two Betas."""
    a, b = np.array([3.0, 2.0]), np.array([5.0, 4.0])
    exact, _ = integrate.quad(
        lambda x: stats.beta.pdf(x, a[0], b[0]) * stats.beta.cdf(x, a[1], b[1]), 0, 1
    )
    redraws = 20_000
    p = estimate_propensities(a, b, np.array([0, 1]), np.random.default_rng(2), redraws)
    # the item at position 2 is there exactly when the other is first: the same chance
    assert p == pytest.approx([exact, exact], abs=4 * 0.5 / np.sqrt(redraws))
    p_other = estimate_propensities(a, b, np.array([1, 0]), np.random.default_rng(3), redraws)
    assert p_other == pytest.approx([1 - exact] * 2, abs=4 * 0.5 / np.sqrt(redraws))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("thompson", "needs a number after ':', e.g. thompson:0.1"),
        ("thompson:x", "needs a number after ':'"),
        ("thompson:0", "thompson's prior strength"),
        ("thompson:-1", "must be a positive number"),
        ("thompson:inf", "must be a positive number"),
    ],
)
def test_a_bad_thompson_spec_names_what_to_write(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match="thompson") as info:
        parse_policy(spec)
    assert message in str(info.value)


def test_a_thompson_spec_parses_with_its_label() -> None:
    policy = parse_policy("thompson:2")
    assert policy.learns and policy.label == "thompson:2"
    with pytest.raises(ValueError, match="posteriors"):
        policy.draw(np.zeros(3), 2, np.random.default_rng())
