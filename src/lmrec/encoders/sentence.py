"""Sentence-transformers on PyTorch: the reference text encoder."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from lmrec.core.threads import torch_threads
from lmrec.encoders.base import ModelSource, normalize_rows, resolve_model
from lmrec.encoders.config import EncoderConfig
from lmrec.errors import ConfigError


class SentenceTransformerEncoder:
    """Encodes with a sentence-transformers model (torch), rows L2-normalised."""

    def __init__(self, config: EncoderConfig, source: ModelSource | None = None) -> None:
        self.config = config
        self.source = source or resolve_model(config)
        self._model = load_sentence_transformer(self.source, config.device)
        dim = self._model.get_embedding_dimension()
        if dim is None:
            raise ConfigError(f"text model {self.source.location} does not report its dimension")
        self._dim = int(dim)

    @property
    def identity(self) -> str:
        return f"{self.source.identity}:fp32"

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def model(self) -> Any:
        """The loaded SentenceTransformer (used for ONNX export)."""
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, self.dim), dtype=np.float32)
        with torch_threads(self.config.threads):
            out = self._model.encode(
                list(texts),
                batch_size=self.config.batch_size,
                show_progress_bar=self.config.show_progress,
                convert_to_numpy=True,
                normalize_embeddings=True,
            )
        return normalize_rows(out)


def load_sentence_transformer(source: ModelSource, device: str | None) -> Any:
    """Load a SentenceTransformer quietly, from local files only unless it is a hub name.

    One loaded copy per (model, device) serves every encoder config that differs only in
    batch size, threads, cache or progress settings."""
    return _load_cached(source.location, source.local, device)


@lru_cache(maxsize=4)
def _load_cached(location: str, local: bool, device: str | None) -> Any:
    from sentence_transformers import SentenceTransformer

    with quiet_transformers():
        try:
            return SentenceTransformer(location, device=device, local_files_only=local)
        except OSError as exc:
            raise ConfigError(f"cannot load text model '{location}': {exc}") from None


@contextlib.contextmanager
def quiet_transformers() -> Iterator[None]:
    """Hide the weight-loading progress bar: library code does not write to the terminal."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
