"""Run options (device, threads, progress, checkpoints) apart from hyper-parameters."""

from __future__ import annotations

import pytest

from lmrec.core.options import FitOptions, split_run_settings
from lmrec.errors import ConfigError


def test_run_settings_are_split_from_hyper_parameters() -> None:
    hyper, run = split_run_settings(
        {"reg": 3.0, "device": "cuda", "threads": 2, "num_threads": 4, "progress": True}
    )
    assert hyper == {"reg": 3.0}
    assert run == {"device": "cuda", "threads": 2, "progress": True}
    assert split_run_settings({"num_threads": 0})[1] == {}  # 0 meant "all cores"


def test_bad_options_are_refused() -> None:
    with pytest.raises(ConfigError, match="threads"):
        FitOptions(threads=0)
    with pytest.raises(ConfigError, match="checkpoint"):
        FitOptions(resume=True)


def test_updated_keeps_what_is_not_given() -> None:
    options = FitOptions(device="cpu", threads=2).updated(threads=None, progress=True)
    assert (options.device, options.threads, options.progress) == ("cpu", 2, True)


def test_own_settings_win_over_outer_ones() -> None:
    outer = FitOptions(device="cpu", threads=4, progress=True)
    mine = FitOptions(threads=1)
    combined = mine.under(outer)
    assert (combined.device, combined.threads, combined.progress) == ("cpu", 1, True)
    assert FitOptions().under(outer) == outer
