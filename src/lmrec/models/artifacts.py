"""Save and load trained models as plain directories (JSON + .npz, never pickle).

Layout of a model directory:
  model.json      model name, config, lmrec version, data fingerprint, creation time
  params.npz      learned arrays (sparse matrices stored as their CSR parts)
  history.npz     training user x item matrix (for excluding seen items and fold-in)
  user_ids.csv / item_ids.csv   the id maps
  items.parquet   the item table (text and attributes), when the data had one
  metrics.json    written by evaluation, optional
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

import lmrec
from lmrec.data.idmap import IdMap
from lmrec.errors import ArtifactError
from lmrec.models.base import Recommender
from lmrec.models.registry import get_model_class

FORMAT_VERSION = 1
_SPARSE_TAG = "__csr__"


def save_model(model: Recommender, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write a fitted model to `path` (created if needed)."""
    model._require_fitted()
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    arrays: dict[str, np.ndarray] = {}
    for attr in model.state_attrs:
        value = getattr(model, attr)
        if value is None:
            continue
        if sp.issparse(value):
            csr = sp.csr_matrix(value)
            arrays[f"{attr}{_SPARSE_TAG}data"] = csr.data
            arrays[f"{attr}{_SPARSE_TAG}indices"] = csr.indices
            arrays[f"{attr}{_SPARSE_TAG}indptr"] = csr.indptr
            arrays[f"{attr}{_SPARSE_TAG}shape"] = np.array(csr.shape)
        else:
            arrays[attr] = np.asarray(value)
    np.savez(out / "params.npz", **arrays)
    assert model.history_ is not None and model.user_map and model.item_map
    sp.save_npz(out / "history.npz", model.history_)
    model.user_map.save(out / "user_ids.csv")
    model.item_map.save(out / "item_ids.csv")
    if model.items is not None:
        text_cols = {c: str for c in model.items.columns if model.items[c].dtype == object}
        model.items.astype(text_cols).to_parquet(out / "items.parquet", index=False)
    meta = {
        "format": FORMAT_VERSION,
        "model": model.name,
        "config": model.config.model_dump(mode="json"),
        "lmrec_version": lmrec.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "n_users": model.n_users,
        "n_items": model.n_items,
        **(extra or {}),
    }
    model._save_extra(out)
    (out / "model.json").write_text(json.dumps(meta, indent=2))
    return out


def read_meta(path: str | Path) -> dict[str, Any]:
    meta_path = Path(path) / "model.json"
    if not meta_path.exists():
        raise ArtifactError(
            f"{path} is not a model directory (no model.json); train one with "
            "`lmrec train MODEL --data ... --out DIR`"
        )
    try:
        return json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise ArtifactError(f"{meta_path}: not valid JSON ({exc})") from None


def load_model(path: str | Path) -> Recommender:
    """Load a model saved by `save_model`, checking the format version."""
    src = Path(path)
    meta = read_meta(src)
    if meta.get("format") != FORMAT_VERSION:
        raise ArtifactError(
            f"{src}: saved in artifact format {meta.get('format')}, this lmrec "
            f"({lmrec.__version__}) reads format {FORMAT_VERSION}; retrain the model"
        )
    cls = get_model_class(meta["model"])
    model = cls(meta["config"])
    try:
        with np.load(src / "params.npz", allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        model.history_ = sp.load_npz(src / "history.npz").tocsr()
        model.user_map = IdMap.load(src / "user_ids.csv", kind="user")
        model.item_map = IdMap.load(src / "item_ids.csv", kind="item")
    except FileNotFoundError as exc:
        raise ArtifactError(f"{src}: incomplete model directory ({exc.filename} missing)") from None
    items_path = src / "items.parquet"
    model.items = pd.read_parquet(items_path) if items_path.exists() else None
    for attr in model.state_attrs:
        if attr in arrays:
            setattr(model, attr, arrays[attr])
        elif f"{attr}{_SPARSE_TAG}data" in arrays:
            parts = [arrays[f"{attr}{_SPARSE_TAG}{p}"] for p in ("data", "indices", "indptr")]
            shape = tuple(arrays[f"{attr}{_SPARSE_TAG}shape"])
            setattr(model, attr, sp.csr_matrix(tuple(parts), shape=shape))
    model._load_extra(src)
    model._after_load()
    return model
