import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from lmrec.encoders import CacheStats, EmbeddingCache, TextEncoder, encode_cached
from lmrec.errors import ConfigError

TITLES = [f"Film number {i} (19{50 + i}). Genres: Drama." for i in range(12)]


class CountingEncoder:
    """The real encoder, recording which texts reach it."""

    def __init__(self, inner: TextEncoder) -> None:
        self.inner = inner
        self.seen: list[str] = []

    @property
    def identity(self) -> str:
        return self.inner.identity

    @property
    def dim(self) -> int:
        return self.inner.dim

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.seen += list(texts)
        return self.inner.encode(texts)


def test_second_run_encodes_nothing(minilm: TextEncoder, tmp_path: Path) -> None:
    enc = CountingEncoder(minilm)
    first_stats = CacheStats()
    first = encode_cached(enc, TITLES, EmbeddingCache(tmp_path), stats=first_stats)
    assert first_stats == CacheStats(hits=0, misses=len(TITLES))
    assert enc.seen == TITLES
    np.testing.assert_allclose(first, minilm.encode(TITLES), atol=1e-5)

    enc.seen.clear()
    cache = EmbeddingCache(tmp_path)  # a new run: nothing shared but the directory
    again_stats = CacheStats()
    again = encode_cached(enc, TITLES, cache, stats=again_stats)
    assert enc.seen == []
    assert again_stats == CacheStats(hits=len(TITLES), misses=0)
    assert cache.stats == again_stats
    np.testing.assert_array_equal(again, first)
    assert cache.count(minilm.identity) == len(TITLES)


def test_changed_items_alone_are_encoded(minilm: TextEncoder, tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    encode_cached(minilm, TITLES, cache)
    changed = list(TITLES)
    changed[3] = "Film number 3 (1953). Genres: Comedy."
    enc = CountingEncoder(minilm)
    stats = CacheStats()
    out = encode_cached(enc, changed, cache, stats=stats)
    assert enc.seen == [changed[3]]
    assert stats == CacheStats(hits=len(TITLES) - 1, misses=1)
    np.testing.assert_allclose(out[3], minilm.encode([changed[3]])[0], atol=1e-5)


def test_duplicates_are_encoded_once(minilm: TextEncoder) -> None:
    enc = CountingEncoder(minilm)
    texts = ["Heat", "Casino", "Heat", "Heat"]
    stats = CacheStats()
    out = encode_cached(enc, texts, None, stats=stats)
    assert enc.seen == ["Heat", "Casino"]
    assert stats == CacheStats(hits=0, misses=2)
    np.testing.assert_array_equal(out[0], out[2])
    assert out.shape == (4, minilm.dim)
    assert encode_cached(enc, [], None).shape == (0, minilm.dim)


def test_store_and_lookup_round_trip(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    keys = [bytes([i]) * 32 for i in range(5)]
    vecs = np.arange(15, dtype=np.float32).reshape(5, 3)
    cache.store("m:fp32", keys[:3], vecs[:3])
    found, got = cache.lookup("m:fp32", keys, 3)
    assert found.tolist() == [True, True, True, False, False]
    np.testing.assert_array_equal(got[:3], vecs[:3])
    assert not got[3:].any()
    # another model's vectors live apart
    assert not cache.lookup("other:fp32", keys, 3)[0].any()
    with pytest.raises(ConfigError, match="dim"):
        cache.lookup("m:fp32", keys, 4)


def test_lookup_of_a_few_keys_in_a_large_cache(tmp_path: Path) -> None:
    # few keys against many stored ones take the indexed path, not a full scan
    cache = EmbeddingCache(tmp_path)
    keys = [i.to_bytes(32, "big") for i in range(200)]
    vecs = np.arange(400, dtype=np.float32).reshape(200, 2)
    cache.store("m:fp32", keys, vecs)
    wanted = [keys[7], b"x" * 32, keys[150]]
    found, got = cache.lookup("m:fp32", wanted, 2)
    assert found.tolist() == [True, False, True]
    np.testing.assert_array_equal(got, [vecs[7], [0, 0], vecs[150]])


def test_two_processes_writing_at_once(tmp_path: Path) -> None:
    code = (
        "import sys, numpy as np\n"
        "from lmrec.encoders import EmbeddingCache\n"
        "start = int(sys.argv[2])\n"
        "cache = EmbeddingCache(sys.argv[1])\n"
        "for chunk in range(start, start + 3000, 300):\n"
        "    keys = [i.to_bytes(32, 'big') for i in range(chunk, chunk + 300)]\n"
        "    vecs = np.repeat(np.arange(chunk, chunk + 300, dtype=np.float32)[:, None], 4, 1)\n"
        "    cache.store('shared:fp32', keys, vecs)\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path), str(start)])
        for start in (0, 1500)  # the two writers overlap on 1500 keys
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    cache = EmbeddingCache(tmp_path)
    assert cache.count("shared:fp32") == 4500
    keys = [i.to_bytes(32, "big") for i in range(4500)]
    found, vecs = cache.lookup("shared:fp32", keys, 4)
    assert found.all()
    np.testing.assert_array_equal(vecs[:, 0], np.arange(4500, dtype=np.float32))
