"""The ONNX export of the user-vector models (`onnx-user`: hybrid and NCF): the shared
contract, scores that follow the torch model's through fp32, int8 and fp16 weights,
requests the graph cannot answer, and loading without torch."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import onnx
import pandas as pd
import pytest
from onnx import numpy_helper

from lmrec.core.query import Query
from lmrec.data.dataset import from_frame
from lmrec.encoders import TextEncoder
from lmrec.errors import UnsupportedError
from lmrec.models.artifacts import load_model
from lmrec.models.compressed.onnx_user import OnnxUserRecommender
from lmrec.models.forgetting import forget_users
from lmrec.models.neural.hybrid import HybridRecommender
from lmrec.models.registry import create_model
from lmrec.testing import RecommenderContract, blocks

from .test_hybrid import FAST as HYBRID_FAST
from .test_hybrid import taste_data

NCF_FAST = {"factors": 8, "layers": [16, 8], "lr": 0.01, "batch_size": 256, "threads": 1}


class TestOnnxUserContract(RecommenderContract):
    model_name = "onnx-user"
    model_config: ClassVar[dict[str, Any]] = {
        "source": "ncf",
        "source_config": {**NCF_FAST, "epochs": 25},
        "parity_users": 8,
        "threads": 1,
    }
    stochastic = True
    # as NCF's own contract: the held-out item near the top, not always first
    quality_exact = False
    quality_k = 3
    quality_min_hit_rate = 0.8


@pytest.fixture(scope="module")
def ncf() -> Any:
    return create_model("ncf", {**NCF_FAST, "epochs": 25}).fit(blocks().train)


@pytest.fixture(scope="module")
def hybrid(minilm: TextEncoder) -> HybridRecommender:
    """Fitted on films of three tastes, one new film per taste scored by its text alone,
    and one catalogue row with neither interactions nor text (scored by nothing: NaN)."""
    data, _ = taste_data()
    assert data.items is not None
    blank = pd.DataFrame({"item_id": ["blank"], "title": [""], "genres": [""]})
    items = pd.concat([data.items[["item_id", "title", "genres"]], blank], ignore_index=True)
    data = from_frame(data.to_frame(), items=items)
    return HybridRecommender(HYBRID_FAST, id_dropout=0.5).fit(data)


@pytest.mark.parametrize("family", ["ncf", "hybrid"])
def test_fp32_export_scores_and_ranks_like_torch(
    family: str, request: pytest.FixtureRequest
) -> None:
    source = request.getfixturevalue(family)
    exported = OnnxUserRecommender.from_model(source, "none", parity_users=40)
    users = np.arange(source.n_users)
    np.testing.assert_allclose(
        exported.score_users(users), source.score_users(users), atol=1e-5, rtol=0
    )
    if family == "hybrid":  # the blank item: NaN in both
        blank = source.item_map.index_of("blank")
        assert np.isnan(exported.score_users(users)[:, blank]).all()
    assert exported.parity_ is not None and exported.parity_["top10_overlap"] == 1.0
    assert exported.parity_["max_abs_error"] < 1e-5
    assert exported.parity_["users"] == min(40, source.n_users)
    for user in source.user_map.ids[:5]:
        query = Query(user_id=user, k=10)
        assert exported.recommend(query).item_ids == source.recommend(query).item_ids


def test_new_items_known_by_text_keep_their_scores(hybrid: HybridRecommender) -> None:
    """Items without interactions are scored through the text tower in torch; the graph
    holds the tower's output, so a fan still gets the new film of their taste first."""
    exported = OnnxUserRecommender.from_model(hybrid, "int8", parity_users=8)
    new = ["space8", "love8", "ghost8"]
    for taste in ("space", "love", "ghost"):
        recs = exported.recommend(Query(user_id=f"{taste}-fan0", candidates=new, k=3))
        assert recs.item_ids[0] == f"{taste}8"


# (fp16 leaves weights under 256 values in fp32: the toy NCF's are all that small)
@pytest.mark.parametrize(
    ("family", "quantize"), [("ncf", "int8"), ("hybrid", "int8"), ("hybrid", "fp16")]
)
def test_quantised_export_is_smaller_and_close(
    family: str, quantize: str, request: pytest.FixtureRequest
) -> None:
    source = request.getfixturevalue(family)
    fp32 = OnnxUserRecommender.from_model(source, "none", parity_users=4)
    small = OnnxUserRecommender.from_model(source, quantize, parity_users=40)  # type: ignore[arg-type]
    assert small.graph_ is not None and fp32.graph_ is not None
    assert _weight_bytes(small.graph_) < 0.6 * _weight_bytes(fp32.graph_)
    assert small.parity_ is not None and small.parity_["top10_overlap"] >= 0.8
    users = np.arange(source.n_users)
    expected, got = source.score_users(users), small.score_users(users)
    spread = np.nanmax(expected) - np.nanmin(expected)
    assert np.nanmax(np.abs(got - expected)) < 0.05 * spread
    assert small.parity_["max_abs_error"] > 0  # it really is another set of weights


def _weight_bytes(graph: bytes) -> int:
    model = onnx.load_from_string(graph)
    return sum(numpy_helper.to_array(init).nbytes for init in model.graph.initializer)


def test_what_the_graph_cannot_answer_is_refused_clearly(hybrid: HybridRecommender) -> None:
    """A new history needs the fold-in, which is not in the graph; the error says so."""
    exported = OnnxUserRecommender.from_model(hybrid, "none", parity_users=4)
    with pytest.raises(UnsupportedError, match="cannot score a new history"):
        exported.recommend(Query(history=["love0", "love1"], k=3))
    # a forgotten user's row is emptied (the user tables are inside the graph)
    forgotten, ids = forget_users(exported, ["love-fan1"])
    assert ids == ["love-fan1"]
    index = exported.user_map.index_of("love-fan1")  # type: ignore[union-attr]
    assert np.isnan(forgotten.score_users(np.array([index]))).all()
    kept = exported.score_users(np.array([index]))[0]
    assert np.isfinite(kept).sum() == exported.n_items - 1  # all but the blank item


def test_single_width_ncf_is_refused() -> None:
    source = create_model("ncf", {**NCF_FAST, "layers": [16], "epochs": 1}).fit(blocks().train)
    with pytest.raises(UnsupportedError, match=r"layers=\[64,32\]"):
        OnnxUserRecommender.from_model(source)


def test_saved_export_loads_and_scores_without_torch(ncf: Any, tmp_path: Path) -> None:
    exported = OnnxUserRecommender.from_model(ncf, "int8", parity_users=8)
    exported.save(tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    users = np.arange(ncf.n_users)
    np.testing.assert_array_equal(loaded.score_users(users), exported.score_users(users))
    assert loaded.parity_ == exported.parity_
    user = str(ncf.user_map.ids[0])
    script = textwrap.dedent(
        f"""
        import sys
        from lmrec.core.query import Query
        from lmrec.models.artifacts import load_model
        model = load_model({str(tmp_path / "m")!r})
        recs = model.recommend(Query(user_id={user!r}, k=3))
        assert len(recs) == 3, recs
        assert "torch" not in sys.modules, "loading an ONNX model imported torch"
        assert "onnx" not in sys.modules, "loading an ONNX model imported the onnx package"
        print("ok")
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
