"""Build a text encoder from its config; heavy libraries load only here."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from lmrec.core.config import build_config
from lmrec.encoders.base import TextEncoder
from lmrec.encoders.config import EncoderConfig
from lmrec.errors import ConfigError


def get_encoder(config: EncoderConfig | dict[str, Any] | None = None) -> TextEncoder:
    """The encoder for `config`; loaded once per process and reused (models take seconds
    to load and hold hundreds of MB)."""
    if config is None:
        config = EncoderConfig()
    elif isinstance(config, dict):
        config = build_config(EncoderConfig, config)
    assert isinstance(config, EncoderConfig)
    return _load(config)


@lru_cache(maxsize=4)
def _load(config: EncoderConfig) -> TextEncoder:
    try:
        if config.backend == "torch":
            from lmrec.encoders.sentence import SentenceTransformerEncoder

            return SentenceTransformerEncoder(config)
        from lmrec.encoders.onnx_runtime import OnnxEncoder

        return OnnxEncoder(config)
    except ImportError as exc:
        raise ConfigError(
            f"the '{config.backend}' text encoder needs a package that is not installed "
            f"({exc.name}); install it with `pip install lmrec[text]`"
        ) from None
