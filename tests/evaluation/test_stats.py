from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from lmrec.errors import DataError
from lmrec.evaluation import stats
from lmrec.evaluation.stats import bootstrap_ci, bootstrap_means, paired_test


def test_bootstrap_interval_contains_the_mean_and_is_seeded() -> None:
    values = np.random.default_rng(1).random(500)
    low, high = bootstrap_ci(values, n_boot=500, seed=3)
    assert low < values.mean() < high
    # the interval of a mean of 500 uniforms is about +-1.96 * 0.289 / sqrt(500) = +-0.025
    assert 0.03 < high - low < 0.07
    assert bootstrap_ci(values, n_boot=500, seed=3) == (low, high)
    assert bootstrap_ci(values, n_boot=500, seed=4) != (low, high)


def test_bootstrap_of_constant_values_is_a_point() -> None:
    assert bootstrap_ci(np.full(20, 0.25), n_boot=50) == (0.25, 0.25)


def test_bootstrap_chunking_does_not_change_the_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    values = np.random.default_rng(2).random((40, 3))
    whole = bootstrap_means(values, n_boot=100, seed=9)
    monkeypatch.setattr(stats, "_MAX_DRAWS_PER_CHUNK", 40 * 7)  # 7 resamples per chunk
    np.testing.assert_array_equal(bootstrap_means(values, n_boot=100, seed=9), whole)
    assert whole.shape == (100, 3)


def test_bootstrap_rejects_empty_input() -> None:
    with pytest.raises(DataError, match="empty"):
        bootstrap_ci(np.array([np.nan]))


def test_paired_test_detects_a_real_difference() -> None:
    rng = np.random.default_rng(0)
    a = rng.random(300)
    b = a + 0.05 + rng.normal(0, 0.05, 300)
    res = paired_test(a, b, n_boot=300)
    assert res.mean_diff == pytest.approx(float((b - a).mean()))
    assert res.diff_ci_low > 0 and res.t_pvalue < 1e-6 and res.wilcoxon_pvalue < 1e-6
    assert res.significant() and res.n == 300


def test_paired_test_finds_nothing_in_a_symmetric_null() -> None:
    # values and changes on a 1/64 grid so the differences are exact in floating point
    a = np.random.default_rng(0).integers(16, 48, 200) / 64
    # every user's change is matched by an equal and opposite change: mean diff exactly 0
    shift = np.tile([0.125, -0.125], 100)
    res = paired_test(a, a + shift)
    assert res.mean_diff == 0.0
    assert res.t_pvalue > 0.9 and res.wilcoxon_pvalue > 0.9
    assert res.diff_ci_low < 0 < res.diff_ci_high
    assert not res.significant()


def test_paired_test_of_identical_systems() -> None:
    a = np.linspace(0, 1, 10)
    res = paired_test(a, a.copy())
    assert (res.t_pvalue, res.wilcoxon_pvalue, res.mean_diff) == (1.0, 1.0, 0.0)


def test_paired_test_aligns_series_by_user() -> None:
    a = pd.Series([0.1, 0.2, 0.3, 0.9], index=["u1", "u2", "u3", "only_a"])
    b = pd.Series([0.5, 0.3, 0.2], index=["u3", "u2", "u1"])  # reversed order
    res = paired_test(a, b, n_boot=50)
    # pairs: u1 0.1 -> 0.2, u2 0.2 -> 0.3, u3 0.3 -> 0.5: differences 0.1, 0.1, 0.2
    assert res.n == 3 and res.n_unmatched == 1
    assert res.mean_diff == pytest.approx(0.4 / 3)
    assert res.to_dict()["n"] == 3


def test_paired_test_rejects_unaligned_arrays() -> None:
    with pytest.raises(DataError, match="differ in length"):
        paired_test(np.zeros(3), np.zeros(4))
