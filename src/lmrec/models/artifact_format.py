"""The on-disk form of a trained model: plain files, never pickle.

Layout of a model directory:
  model.json      metadata: artifact format, model name, config (hyper-parameters only),
                  lmrec version, training-data fingerprint, creation time, sizes
  params.npz      learned arrays (sparse matrices stored as their CSR parts)
  history.npz     training user x item matrix (for excluding seen items and fold-in)
  user_ids.csv / item_ids.csv   the id maps
  items.parquet   the item table (text and attributes), when the data had one
  metrics.json    written by evaluation, optional

Format 1 (lmrec 0.1 before run options) kept device, threads and checkpoint settings in
the config; they are read as run settings and ignored on load.
"""

from __future__ import annotations

import json
import time
import zipfile
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import BaseModel

from lmrec import __version__
from lmrec.data.idmap import IdMap
from lmrec.errors import ArtifactError

FORMAT_VERSION = 2
READABLE_FORMATS = (1, 2)
META_FILE = "model.json"
_SPARSE_TAG = "__csr__"


class Stored(Protocol):
    """What is written and read of a model (lmrec.models.base.Recommender has it all)."""

    name: ClassVar[str]
    state_attrs: ClassVar[tuple[str, ...]]
    history_: sp.csr_matrix | None
    user_map: IdMap | None
    item_map: IdMap | None
    items: pd.DataFrame | None
    train_fingerprint_: str | None

    @property
    def config(self) -> BaseModel: ...

    @property
    def n_users(self) -> int: ...

    @property
    def n_items(self) -> int: ...

    def _require_fitted(self) -> None: ...

    def _save_extra(self, path: Path) -> None: ...


def write_artifact(model: Stored, out: Path, extra: dict[str, Any] | None) -> Path:
    """Write a fitted model to `out` (created if needed); metadata last, so a directory
    with a model.json is complete."""
    model._require_fitted()
    assert model.history_ is not None and model.user_map and model.item_map
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
    savez: Any = np.savez  # (file, **arrays): numpy's stubs type keyword arrays as flags
    savez(out / "params.npz", **arrays)
    sp.save_npz(out / "history.npz", model.history_)
    model.user_map.save(out / "user_ids.csv")
    model.item_map.save(out / "item_ids.csv")
    if model.items is not None:
        text_cols = {c: str for c in model.items.columns if model.items[c].dtype == object}
        model.items.astype(text_cols).to_parquet(out / "items.parquet", index=False)
    model._save_extra(out)
    meta = {
        "format": FORMAT_VERSION,
        "model": model.name,
        "config": model.config.model_dump(mode="json"),
        "lmrec_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "n_users": model.n_users,
        "n_items": model.n_items,
        "train_fingerprint": model.train_fingerprint_,
        **({"privacy": privacy} if (privacy := getattr(model, "privacy_", None)) else {}),
        **(extra or {}),
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=2))
    return out


def read_meta(path: str | Path) -> dict[str, Any]:
    """The metadata of a model directory, checked for a format this lmrec reads."""
    meta_path = Path(path) / META_FILE
    if not meta_path.exists():
        raise ArtifactError(
            f"{path} is not a model directory (no {META_FILE}); train one with "
            "`lmrec train MODEL --data ... --out DIR`"
        )
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{meta_path}: not valid JSON ({exc}); the file is corrupt") from None
    if not isinstance(meta, dict) or "model" not in meta or "config" not in meta:
        raise ArtifactError(f"{meta_path}: no model name or config; the file is corrupt")
    fmt = meta.get("format")
    if fmt not in READABLE_FORMATS:
        newer = isinstance(fmt, int) and fmt > FORMAT_VERSION
        by = f" by lmrec {meta.get('lmrec_version')}" if meta.get("lmrec_version") else ""
        fix = "upgrade lmrec to load it" if newer else "retrain the model"
        raise ArtifactError(
            f"{path}: saved in artifact format {fmt!r}{by}; this lmrec ({__version__}) "
            f"reads formats {', '.join(map(str, READABLE_FORMATS))}: {fix}"
        )
    return meta


def read_state(path: Path, model: Stored) -> None:
    """Fill a freshly built model with the arrays, id maps and item table in `path`."""
    try:
        with np.load(path / "params.npz", allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        model.history_ = sp.load_npz(path / "history.npz").tocsr()
        model.user_map = IdMap.load(path / "user_ids.csv", kind="user")
        model.item_map = IdMap.load(path / "item_ids.csv", kind="item")
        items_path = path / "items.parquet"
        model.items = pd.read_parquet(items_path) if items_path.exists() else None
    except FileNotFoundError as exc:
        raise ArtifactError(
            f"{path}: incomplete model directory ({Path(str(exc.filename)).name} missing)"
        ) from None
    except (zipfile.BadZipFile, EOFError, ValueError, OSError) as exc:
        raise ArtifactError(f"{path}: a model file is corrupt or truncated ({exc})") from None
    for attr in model.state_attrs:
        if attr in arrays:
            setattr(model, attr, arrays[attr])
        elif f"{attr}{_SPARSE_TAG}data" in arrays:
            parts = [arrays[f"{attr}{_SPARSE_TAG}{p}"] for p in ("data", "indices", "indptr")]
            shape = tuple(arrays[f"{attr}{_SPARSE_TAG}shape"])
            setattr(model, attr, sp.csr_matrix(tuple(parts), shape=shape))


def check_sizes(path: Path, model: Stored, meta: dict[str, Any]) -> None:
    """The id maps and the history agree with the sizes recorded when the model was
    saved: a truncated or replaced id file would otherwise load and fail later, at the
    first request that touches a missing row."""
    assert model.user_map is not None and model.item_map is not None
    assert model.history_ is not None
    found = {"users": len(model.user_map), "items": len(model.item_map)}
    files = {"users": "user_ids.csv", "items": "item_ids.csv"}
    for what, n in found.items():
        saved = meta.get(f"n_{what}")
        if isinstance(saved, int) and saved != n:
            raise ArtifactError(
                f"{path}: {files[what]} holds {n:,} ids but the model was saved with "
                f"{saved:,} {what}; the file is truncated or replaced: re-register the model"
            )
    rows, cols = model.history_.shape
    if rows != found["users"] or cols > found["items"]:
        raise ArtifactError(
            f"{path}: history.npz is {rows:,} x {cols:,} but the id maps hold "
            f"{found['users']:,} users and {found['items']:,} items; the model directory "
            "mixes files of different models: re-register the model"
        )
