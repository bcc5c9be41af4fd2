"""`lmrec export`: a trained model directory -> a compressed model directory that lmrec
loads, evaluates and serves like any other (sequence models: onnx_sequence; hybrid and
NCF: onnx_user)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from lmrec.core.options import FitOptions
from lmrec.errors import ConfigError, UnsupportedError
from lmrec.models.artifact_format import read_meta
from lmrec.models.artifacts import load_model
from lmrec.models.base import Recommender
from lmrec.models.compressed import QUANTIZE_CHOICES, Quantize, onnx_sequence, onnx_user
from lmrec.models.compressed.onnx_base import OnnxGraphModel

FORMATS = ("onnx",)
#: model.json keys the exported model writes itself; every other key (the data it was
#: trained on, its split, where it came from) is carried over so `lmrec evaluate`
#: rebuilds the same split and promotion reads the same data
_OWN_KEYS = {"format", "model", "config", "lmrec_version", "created", "n_users", "n_items"}
#: files beside the model that belong to its data, not its weights
_CARRIED_FILES = ("holdout.parquet",)


def export_model(
    model_dir: str | Path,
    out: str | Path,
    fmt: str = "onnx",
    quantize: str = "none",
    threads: int | None = None,
    parity_users: int = 256,
) -> OnnxGraphModel[Any]:
    """Export the model in `model_dir` to `out` and return the exported model (its
    `parity_` says how closely it follows the original)."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown export format '{fmt}' (choose from {', '.join(FORMATS)})")
    if quantize not in QUANTIZE_CHOICES:
        raise ConfigError(
            f"unknown quantisation '{quantize}' (choose from {', '.join(QUANTIZE_CHOICES)})"
        )
    src, dst = Path(model_dir), Path(out)
    if dst.resolve() == src.resolve():
        raise ConfigError("--out must be another directory than the model's own")
    meta = read_meta(src)
    source = load_model(src, FitOptions(device="cpu", threads=threads))
    mode: Quantize = quantize  # checked above
    model = compress(source, mode, parity_users)
    carried: dict[str, Any] = {k: v for k, v in meta.items() if k not in _OWN_KEYS}
    model.save(dst, {**carried, "exported_from": {"model": meta["model"], "path": str(src)}})
    for name in _CARRIED_FILES:
        if (src / name).exists():
            shutil.copyfile(src / name, dst / name)
    return model


def compress(
    source: Recommender[Any], quantize: Quantize = "none", parity_users: int = 256
) -> OnnxGraphModel[Any]:
    """The ONNX copy of a trained model, by its family."""
    if source.name in onnx_sequence.EXPORTABLE:
        return onnx_sequence.OnnxSequenceRecommender.from_model(source, quantize, parity_users)
    if source.name in onnx_user.EXPORTABLE:
        return onnx_user.OnnxUserRecommender.from_model(source, quantize, parity_users)
    families = (*onnx_sequence.EXPORTABLE, *onnx_user.EXPORTABLE)
    raise UnsupportedError(
        f"model '{source.name}' has no ONNX export yet (exportable: {', '.join(families)})"
    )
