"""Serving's exploration policies: the logged propensities are the true chances."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from lmrec.errors import ConfigError
from lmrec.feedback.exploration import ExplorationPolicy, parse_policy

SCORES = np.array([2.0, 1.5, 0.3, -1.0])


def test_greedy_shows_the_first_k_for_sure() -> None:
    shown, p = ExplorationPolicy().draw(SCORES, 3, np.random.default_rng(0))
    assert shown.tolist() == [0, 1, 2] and p.tolist() == [1.0, 1.0, 1.0]


def test_epsilon_propensities_match_the_frequencies() -> None:
    policy = parse_policy("epsilon:0.4")
    rng = np.random.default_rng(1)
    draws = [policy.draw(SCORES, 2, rng) for _ in range(20_000)]
    counts = np.zeros((2, 4))
    for shown, p in draws:
        counts[np.arange(2), shown] += 1
        assert p == pytest.approx((1 - 0.4) * (shown == np.arange(2)) + 0.4 / 4)
    assert counts / 20_000 == pytest.approx(0.6 * np.eye(2, 4) + 0.1, abs=0.01)


def test_softmax_list_chances_are_plackett_luce_and_sum_to_one() -> None:
    policy = parse_policy("softmax:0.5")
    w = np.exp(SCORES / 0.5)
    total = 0.0
    for a, b in itertools.permutations(range(4), 2):
        expected = w[a] / w.sum() * w[b] / (w.sum() - w[a])
        total += expected
    assert total == pytest.approx(1.0)
    rng = np.random.default_rng(2)
    seen: dict[tuple[int, ...], int] = {}
    for _ in range(20_000):
        shown, p = policy.draw(SCORES, 2, rng)
        key = tuple(shown.tolist())
        seen[key] = seen.get(key, 0) + 1
        a, b = key
        assert p == pytest.approx([w[a] / w.sum(), w[b] / (w.sum() - w[a])])
    # the most likely list is drawn about as often as its chance says
    a, b = 0, 1
    assert seen[(a, b)] / 20_000 == pytest.approx(
        w[a] / w.sum() * w[b] / (w.sum() - w[a]), abs=0.01
    )


def test_fewer_candidates_than_k() -> None:
    shown, p = parse_policy("epsilon:1").draw(SCORES[:2], 5, np.random.default_rng(0))
    assert sorted(shown.tolist()) == [0, 1] and p == pytest.approx([0.5, 0.5])


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("boltzmann:1", "must be one of greedy, epsilon:E, softmax:T"),
        ("epsilon:x", "epsilon needs a number"),
        ("epsilon:1.5", "epsilon must lie in"),
        ("softmax:0", "temperature must be positive"),
        ("greedy:1", "greedy takes no parameter"),
    ],
)
def test_bad_specs(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_policy(spec)
