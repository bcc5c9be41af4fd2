"""The A/B report's statistics: the delta-method rate by hand, and the sequential test's
error rate when read every day, against the fixed interval read the same way."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lmrec.errors import DataError
from lmrec.feedback.ab_test import (
    ab_report,
    confidence_sequence_radius,
    msprt,
    ratio_rate,
)


def _rows(arm: str, users: dict[str, list[int]]) -> list[dict[str, object]]:
    return [
        {"arm": arm, "user_id": user, "reward": float(r)}
        for user, rewards in users.items()
        for r in rewards
    ]


def test_rates_and_errors_by_hand() -> None:
    a = {"a1": [1, 0, 0, 0], "a2": [0, 0], "a3": [1, 1, 0, 0]}  # 3 clicks in 10
    b = {"b1": [1, 1], "b2": [1, 0, 0, 0], "b3": [0, 1]}  # 4 clicks in 8
    frame = pd.DataFrame(_rows("ease", a) + _rows("als", b) + [
        {"arm": None, "user_id": "x", "reward": 1.0}  # outside the test: not counted
    ])  # fmt: skip
    rates, (comparison,) = ab_report(frame, control="ease")
    by_arm = {r.arm: r for r in rates}
    assert (by_arm["ease"].users, by_arm["ease"].impressions, by_arm["ease"].clicks) == (3, 10, 3)
    assert by_arm["als"].rate == pytest.approx(0.5)
    # delta method: residuals c_u - r n_u over the arm's users, m / (m - 1) correction
    resid = np.array([1 - 0.3 * 4, 0 - 0.3 * 2, 2 - 0.3 * 4])
    se = np.sqrt(3 / 2 * np.sum(resid**2) / 10**2)
    assert by_arm["ease"].std_error == pytest.approx(se)
    var = se**2 + by_arm["als"].std_error ** 2
    assert comparison.arm == "als" and comparison.difference == pytest.approx(0.2)
    assert comparison.ci_low == pytest.approx(0.2 - 1.959964 * np.sqrt(var), rel=1e-5)
    lam = np.sqrt(var / (var + 0.005**2)) * np.exp(0.2**2 * 0.005**2 / (2 * var * (var + 0.005**2)))
    assert comparison.sequential_p == pytest.approx(min(1.0, 1 / lam))
    # the confidence sequence is wider than the one-off interval: it holds at every read
    assert comparison.cs_low < comparison.ci_low and comparison.cs_high > comparison.ci_high


def test_one_arm_is_refused_with_how_to_serve_a_test() -> None:
    frame = pd.DataFrame(_rows("ease", {"u": [1, 0]}))
    with pytest.raises(DataError, match="LMREC_AB"):
        ab_report(frame)


def _daily_reads(
    rng: np.random.Generator, rate_a: float, rate_b: float, days: int, users_per_day: int
) -> list[tuple[float, float]]:
    """(difference, variance) after each day of a test, the data growing day by day."""
    shown = {arm: np.empty(0) for arm in "ab"}
    clicks = {arm: np.empty(0) for arm in "ab"}
    reads = []
    for _ in range(days):
        for arm, rate in (("a", rate_a), ("b", rate_b)):
            n = rng.integers(1, 20, users_per_day).astype(float)
            shown[arm] = np.concatenate([shown[arm], n])
            clicks[arm] = np.concatenate([clicks[arm], rng.binomial(n.astype(int), rate)])
        (ra, sa), (rb, sb) = (ratio_rate(clicks[x], shown[x]) for x in "ab")
        reads.append((rb - ra, sa**2 + sb**2))
    return reads


def test_read_every_day_the_sequential_test_keeps_its_error_rate_the_fixed_one_does_not() -> None:
    """No true difference, 300 tests read on each of 30 days: stopping at the first read
    where the fixed 95% interval excludes 0 errs far above 5%; the mSPRT stays below."""
    rng = np.random.default_rng(7)
    fixed_errors = sequential_errors = 0
    for _ in range(300):
        reads = _daily_reads(rng, 0.05, 0.05, days=30, users_per_day=100)
        fixed_errors += any(abs(d) > 1.96 * v**0.5 for d, v in reads)
        sequential_errors += any(1 / msprt(d, v, 0.005) <= 0.05 for d, v in reads)
    assert fixed_errors / 300 > 0.15
    assert sequential_errors / 300 <= 0.06


def test_a_real_difference_is_found_and_the_sequence_covers_it() -> None:
    rng = np.random.default_rng(3)
    found = covered = 0
    for _ in range(50):
        reads = _daily_reads(rng, 0.05, 0.07, days=30, users_per_day=100)
        found += any(1 / msprt(d, v, 0.005) <= 0.05 and d > 0 for d, v in reads)
        covered += all(
            abs(d - 0.02) <= confidence_sequence_radius(v, 0.005, 0.05) for d, v in reads
        )
    assert found >= 45
    assert covered >= 47
