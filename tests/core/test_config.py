"""Dotted keys reach nested tables, as `--set text.encoder.model=DIR` needs."""

from __future__ import annotations

import pytest

from lmrec.core.config import build_config, nest_dotted
from lmrec.errors import ConfigError
from lmrec.models.sequence.sasrec import SASRecConfig


def test_dotted_keys_nest_and_merge_with_the_table() -> None:
    values = {"text": {"template": "{title}"}, "text.encoder.model": "/m", "epochs": 3}
    assert nest_dotted(values) == {
        "text": {"template": "{title}", "encoder": {"model": "/m"}},
        "epochs": 3,
    }
    config = build_config(SASRecConfig, values)
    assert config.text.encoder == {"model": "/m"}
    assert config.text.template == "{title}"


def test_a_dotted_key_under_a_single_value_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"'epochs\.x': 'epochs' is a single value, not a table"):
        build_config(SASRecConfig, {"epochs": 3, "epochs.x": 1})


def test_an_unknown_nested_key_is_named() -> None:
    with pytest.raises(ConfigError, match=r"text\.encoder_typo"):
        build_config(SASRecConfig, {"text.encoder_typo": 1})
