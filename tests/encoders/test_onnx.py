"""The ONNX Runtime backends against the torch reference, on the real MiniLM."""

from pathlib import Path

import numpy as np
import pytest

from lmrec.encoders import EncoderConfig, TextEncoder
from lmrec.encoders.onnx_runtime import OnnxEncoder, pool

TEXTS = [
    "Toy Story (1995). Genres: Animation, Children's, Comedy.",
    "Schindler's List (1993). Genres: Drama, War.",
    "a funny cartoon for children",
    "x",
    "An unusually long description " * 40,  # longer than the 256-token limit: truncated
]


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("onnx-cache")


@pytest.fixture(scope="module")
def onnx_fp32(onnx_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> OnnxEncoder:
    workdir = tmp_path_factory.mktemp("workdir")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(workdir)
        encoder = OnnxEncoder(EncoderConfig(backend="onnx", cache_dir=str(onnx_cache), threads=1))
    assert list(workdir.iterdir()) == []  # the export writes only into the cache
    return encoder


def test_onnx_fp32_matches_torch(minilm: TextEncoder, onnx_fp32: OnnxEncoder) -> None:
    ref = minilm.encode(TEXTS)
    got = onnx_fp32.encode(TEXTS)
    assert got.shape == ref.shape and got.dtype == np.float32
    cos = np.sum(ref * got, axis=1)
    assert cos.min() > 0.9999
    # same numbers, so the two backends share cached embeddings
    assert onnx_fp32.identity == minilm.identity


def test_onnx_int8_agrees_with_torch(
    minilm: TextEncoder, onnx_fp32: OnnxEncoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = onnx_fp32.config.cache_dir
    monkeypatch.chdir(tmp_path)
    int8 = OnnxEncoder(EncoderConfig(backend="onnx-int8", cache_dir=cache, threads=1))
    assert list(tmp_path.iterdir()) == []  # quantising leaves no scratch files behind
    ref = minilm.encode(TEXTS)
    got = int8.encode(TEXTS)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
    cos = np.sum(ref * got, axis=1)
    # Catalogue-like texts agree above 0.99; a one-character text has too few tokens for
    # the int8 rounding errors to average out, so it only agrees above 0.97.
    sentences = [i for i, t in enumerate(TEXTS) if len(t) > 10]
    assert cos[sentences].min() > 0.99
    assert cos.min() > 0.97
    assert int8.identity.endswith(":int8") and int8.identity != minilm.identity
    assert (Path(cache) / "onnx").is_dir()


def test_export_is_cached_not_repeated(onnx_fp32: OnnxEncoder, onnx_cache: Path) -> None:
    folder = next((onnx_cache / "onnx").iterdir())
    before = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    again = OnnxEncoder(EncoderConfig(backend="onnx", cache_dir=str(onnx_cache)))
    after = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert {"model.onnx", "tokenizer.json", "encoder.json"} <= set(before)
    assert before == {k: after[k] for k in before}
    np.testing.assert_array_equal(again.encode(TEXTS[:2]), onnx_fp32.encode(TEXTS[:2]))


def test_batches_do_not_change_results(onnx_cache: Path, onnx_fp32: OnnxEncoder) -> None:
    small = OnnxEncoder(EncoderConfig(backend="onnx", cache_dir=str(onnx_cache), batch_size=2))
    np.testing.assert_allclose(small.encode(TEXTS), onnx_fp32.encode(TEXTS), atol=1e-5)
    assert small.encode([]).shape == (0, 384)


def test_pooling_modes() -> None:
    hidden = np.array([[[1.0, 2.0], [3.0, 6.0], [100.0, 100.0]]], dtype=np.float32)
    mask = np.array([[True, True, False]])  # the third token is padding
    np.testing.assert_allclose(pool(hidden, mask, "mean"), [[2.0, 4.0]])
    np.testing.assert_allclose(pool(hidden, mask, "max"), [[3.0, 6.0]])
    np.testing.assert_allclose(pool(hidden, mask, "cls"), [[1.0, 2.0]])
