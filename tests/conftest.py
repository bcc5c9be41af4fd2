"""Fixtures shared across test packages."""

from __future__ import annotations

import pytest

from lmrec.encoders import EncoderConfig, TextEncoder, get_encoder


@pytest.fixture(scope="session")
def minilm() -> TextEncoder:
    """The real default text model (all-MiniLM-L6-v2, offline), loaded once per session.

    Models built with the default EncoderConfig reuse this same loaded encoder."""
    return get_encoder(EncoderConfig())
