"""The top-level API a user meets first: fast import, lazy names, one small workflow."""

from __future__ import annotations

import subprocess
import sys

import pytest

import lmrec
from lmrec.data.synthetic import generate


def test_import_does_not_load_torch_or_models() -> None:
    code = (
        "import sys, lmrec;"
        "print('torch' in sys.modules, 'lmrec.models.neighbours.ease' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_workflow_through_top_level_names() -> None:
    ds = generate(n_users=60, n_items=80, n_interactions=1500, seed=1)
    split = lmrec.make_split(ds, "ratio", seed=42)
    model = lmrec.create_model("ease", reg=10.0).fit(split.train)
    summary = lmrec.evaluate(model, split.test, exclude=[split.train, split.valid]).summary()
    assert 0.0 < summary["ndcg@10"] <= 1.0
    recs = model.recommend(lmrec.Query(user_id=ds.user_map.ids[0], k=5))
    assert len(recs) == 5


def test_unknown_attribute() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        lmrec.nope  # noqa: B018
