import subprocess
import sys

import numpy as np
import pytest

from lmrec.encoders import DEFAULT_MODEL, EncoderConfig, TextEncoder, get_encoder, normalize_rows
from lmrec.encoders.base import resolve_model
from lmrec.errors import ConfigError

TOY_STORY = "Toy Story (1995). Genres: Animation, Children's, Comedy."
SCHINDLER = "Schindler's List (1993). Genres: Drama, War."
CARTOON = "a funny cartoon for children"


def test_importing_encoders_does_not_import_torch() -> None:
    code = (
        "import sys, lmrec.encoders, lmrec.models.text.content, lmrec.models.text.tfidf;"
        "import lmrec.models.text.profiles;"
        "heavy = {'torch', 'sentence_transformers', 'onnxruntime', 'transformers'};"
        "print(sorted(heavy & set(sys.modules)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_minilm_shapes_and_normalisation(minilm: TextEncoder) -> None:
    assert isinstance(minilm, TextEncoder)
    assert minilm.dim == 384
    assert minilm.identity.startswith(f"{DEFAULT_MODEL}@")
    vecs = minilm.encode([TOY_STORY, SCHINDLER, CARTOON])
    assert vecs.shape == (3, 384) and vecs.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vecs, axis=1), 1.0, atol=1e-5)
    assert minilm.encode([]).shape == (0, 384)


def test_minilm_is_deterministic_and_batch_independent(minilm: TextEncoder) -> None:
    together = minilm.encode([TOY_STORY, SCHINDLER, CARTOON])
    alone = minilm.encode([SCHINDLER])
    np.testing.assert_allclose(together[1], alone[0], atol=1e-5)
    np.testing.assert_array_equal(minilm.encode([TOY_STORY]), minilm.encode([TOY_STORY]))


def test_minilm_semantic_sanity(minilm: TextEncoder) -> None:
    query, toy, schindler = minilm.encode([CARTOON, TOY_STORY, SCHINDLER])
    assert query @ toy > query @ schindler + 0.1


def test_get_encoder_reuses_the_loaded_model(minilm: TextEncoder) -> None:
    assert get_encoder(EncoderConfig()) is minilm
    assert get_encoder({"model": "sentence-transformers/all-MiniLM-L6-v2"}) is not None


def test_model_that_is_not_local_needs_opt_in() -> None:
    with pytest.raises(ConfigError, match="allow_download"):
        resolve_model(EncoderConfig(model="someone/some-model"))
    source = resolve_model(EncoderConfig(model="someone/some-model", allow_download=True))
    assert source.location == "someone/some-model" and not source.local


def test_local_directory_identity_follows_its_content(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "config.json").write_text("{}")
    first = resolve_model(EncoderConfig(model=str(tmp_path))).identity
    (tmp_path / "config.json").write_text('{"changed": 1}')
    second = resolve_model(EncoderConfig(model=str(tmp_path))).identity
    assert first != second and first.startswith(tmp_path.name)


def test_config_rejects_unknown_keys_and_bad_values() -> None:
    with pytest.raises(ConfigError, match="no_such"):
        get_encoder({"no_such": 1})
    with pytest.raises(ConfigError, match="backend"):
        get_encoder({"backend": "tensorflow"})


def test_normalize_rows_keeps_zero_rows() -> None:
    out = normalize_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])
    assert out.dtype == np.float32
