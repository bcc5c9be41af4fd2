"""Pretrained text encoders, their on-disk embedding cache, and item/user text.

Importing this package is cheap: torch, sentence-transformers and onnxruntime load only
when `get_encoder` builds an encoder.

    from lmrec.encoders import EncoderConfig, EmbeddingCache, encode_cached, get_encoder
    encoder = get_encoder(EncoderConfig(backend="onnx-int8", threads=2))
    vectors = encode_cached(encoder, texts, EmbeddingCache())
"""

from lmrec.encoders.base import TextEncoder, normalize_rows
from lmrec.encoders.cache import CacheStats, EmbeddingCache, encode_cached
from lmrec.encoders.config import DEFAULT_MODEL, EncoderConfig
from lmrec.encoders.factory import get_encoder
from lmrec.encoders.text import (
    MOVIE_TEMPLATE,
    ItemTextTemplate,
    default_item_template,
    default_user_template,
)

__all__ = [
    "DEFAULT_MODEL",
    "MOVIE_TEMPLATE",
    "CacheStats",
    "EmbeddingCache",
    "EncoderConfig",
    "ItemTextTemplate",
    "TextEncoder",
    "default_item_template",
    "default_user_template",
    "encode_cached",
    "get_encoder",
    "normalize_rows",
]
