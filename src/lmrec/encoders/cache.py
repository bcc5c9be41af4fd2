"""Embeddings kept on disk, keyed by (model identity, sha256 of the text).

One SQLite file per model identity under <cache_dir>/embeddings/. SQLite in WAL mode
gives atomic batched writes and lets several processes read and write the same cache
safely; a 100k-item catalogue is a few hundred MB and reads back in well under a second.
A second run over the same catalogue encodes nothing; a changed item is a new text hash,
so only changed items are encoded again.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from lmrec.encoders.base import TextEncoder
from lmrec.encoders.config import resolve_cache_dir
from lmrec.errors import ConfigError

#: Texts encoded (and written) per step, so an interrupted run keeps what it finished.
WRITE_CHUNK = 4096


@dataclass
class CacheStats:
    """Distinct texts served from the cache (hits) and encoded by the model (misses)."""

    hits: int = 0
    misses: int = 0

    def add(self, hits: int, misses: int) -> None:
        self.hits += int(hits)
        self.misses += int(misses)


class EmbeddingCache:
    """Embedding vectors on disk for any number of models (one file per model)."""

    def __init__(self, cache_dir: str | Path | None = None) -> None:
        self.directory = resolve_cache_dir(cache_dir) / "embeddings"
        self.stats = CacheStats()  # cumulative over this object's lifetime

    def path_for(self, identity: str) -> Path:
        slug = re.sub(r"[^A-Za-z0-9._-]+", "_", identity)[:80]
        digest = hashlib.sha256(identity.encode()).hexdigest()[:10]
        return self.directory / f"{slug}-{digest}.sqlite"

    def lookup(
        self, identity: str, keys: Sequence[bytes], dim: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """(found mask, vectors) aligned with `keys` (distinct); rows not found are zero."""
        found = np.zeros(len(keys), dtype=bool)
        out = np.zeros((len(keys), dim), dtype=np.float32)
        if not keys or not self.path_for(identity).exists():
            return found, out
        with self._connect(identity, dim) as db:
            stored = db.execute("SELECT COALESCE(MAX(rowid), 0) FROM embeddings").fetchone()[0]
            if 4 * len(keys) >= stored:
                # Asking for much of the cache: one sequential scan beats index probes.
                rows = db.execute("SELECT h, v FROM embeddings").fetchall()
            else:
                db.execute("CREATE TEMP TABLE IF NOT EXISTS wanted (h BLOB)")
                db.execute("DELETE FROM wanted")
                db.executemany("INSERT INTO wanted VALUES (?)", ((k,) for k in keys))
                rows = db.execute(
                    "SELECT e.h, e.v FROM wanted w JOIN embeddings e ON e.h = w.h"
                ).fetchall()
        if rows:
            pos = pd.Index(list(keys)).get_indexer([r[0] for r in rows])
            vectors = np.frombuffer(b"".join(r[1] for r in rows), dtype=np.float32)
            wanted = pos >= 0  # a full scan also returns vectors nobody asked for
            out[pos[wanted]] = vectors.reshape(len(rows), dim)[wanted]
            found[pos[wanted]] = True
        return found, out

    def store(self, identity: str, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Write vectors (rows aligned with keys); keys already present are left alone."""
        if not keys:
            return
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self._connect(identity, vectors.shape[1]) as db:
            db.execute("BEGIN IMMEDIATE")
            db.executemany(
                "INSERT OR IGNORE INTO embeddings VALUES (?, ?)",
                ((k, vectors[i].tobytes()) for i, k in enumerate(keys)),
            )
            db.execute("COMMIT")

    def count(self, identity: str) -> int:
        if not self.path_for(identity).exists():
            return 0
        with self._connect(identity, None) as db:
            return int(db.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0])

    @contextmanager
    def _connect(self, identity: str, dim: int | None) -> Iterator[sqlite3.Connection]:
        path = self.path_for(identity)
        path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE takes the write
        # lock up front, so two writers queue instead of failing half-way).
        db = sqlite3.connect(path, timeout=120, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            # A rowid table keeps each ~1.5 KB vector inside its page; WITHOUT ROWID would
            # spill it to overflow pages and triple the file size.
            db.execute(
                "CREATE TABLE IF NOT EXISTS embeddings (h BLOB NOT NULL UNIQUE, v BLOB NOT NULL)"
            )
            db.execute("CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL)")
            if dim is not None:
                self._check_meta(db, path, identity, dim)
            yield db
        finally:
            db.close()

    @staticmethod
    def _check_meta(db: sqlite3.Connection, path: Path, identity: str, dim: int) -> None:
        db.execute(
            "INSERT OR IGNORE INTO meta VALUES ('identity', ?), ('dim', ?)", (identity, str(dim))
        )
        stored = dict(db.execute("SELECT k, v FROM meta").fetchall())
        if stored["identity"] != identity or int(stored["dim"]) != dim:
            raise ConfigError(
                f"embedding cache {path} holds {stored['identity']} (dim {stored['dim']}), "
                f"not {identity} (dim {dim}); delete the file to rebuild it"
            )


def text_key(text: str) -> bytes:
    return hashlib.sha256(text.encode("utf-8")).digest()


def encode_cached(
    encoder: TextEncoder,
    texts: Sequence[str],
    cache: EmbeddingCache | None = None,
    *,
    stats: CacheStats | None = None,
    show_progress: bool = False,
) -> np.ndarray:
    """Embeddings (len(texts), dim) float32, encoding only texts the cache lacks.

    Each distinct text is encoded at most once. Hit and miss counts (distinct texts) are
    added to `stats` when given and to `cache.stats`.
    """
    dim = encoder.dim
    if len(texts) == 0:
        return np.zeros((0, dim), dtype=np.float32)
    keys = [text_key(t) for t in texts]
    codes, uniques = pd.factorize(pd.Series(keys, dtype=object), sort=False)
    first = np.unique(codes, return_index=True)[1]  # first position of each distinct text
    unique_keys: list[bytes] = list(uniques)
    if cache is not None:
        hit, vectors = cache.lookup(encoder.identity, unique_keys, dim)
    else:
        hit = np.zeros(len(unique_keys), dtype=bool)
        vectors = np.zeros((len(unique_keys), dim), dtype=np.float32)
    missing = np.flatnonzero(~hit)
    progress = _progress(len(missing), show_progress)
    for start in range(0, len(missing), WRITE_CHUNK):
        chunk = missing[start : start + WRITE_CHUNK]
        encoded = encoder.encode([texts[first[j]] for j in chunk])
        vectors[chunk] = encoded
        if cache is not None:
            cache.store(encoder.identity, [unique_keys[j] for j in chunk], encoded)
        if progress is not None:
            progress.update(len(chunk))
    if progress is not None:
        progress.close()
    for s in (stats, cache.stats if cache is not None else None):
        if s is not None:
            s.add(int(hit.sum()), len(missing))
    return vectors[codes]


def _progress(total: int, show: bool) -> Any:
    if not show or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="encoding texts", unit="text")
