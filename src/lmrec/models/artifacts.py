"""Save and load trained models as plain directories (see lmrec.models.artifact_format)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lmrec.core.options import FitOptions, split_run_settings
from lmrec.errors import ArtifactError, LmrecError
from lmrec.models.artifact_format import check_sizes, read_meta, read_state, write_artifact
from lmrec.models.base import Recommender
from lmrec.models.registry import get_model_class

__all__ = ["load_model", "read_meta", "save_model"]


def save_model(
    model: Recommender[Any], path: str | Path, extra: dict[str, Any] | None = None
) -> Path:
    """Write a fitted model to `path` (created if needed)."""
    return write_artifact(model, Path(path), extra)


def load_model(path: str | Path, options: FitOptions | None = None) -> Recommender[Any]:
    """Load a model saved by `save_model`. Run settings saved by older versions (device,
    threads) are ignored: `options` says how to run here (default: choose the device by
    availability), so a model trained on a GPU serves on a CPU-only machine."""
    src = Path(path)
    meta = read_meta(src)
    cls = get_model_class(meta["model"])
    hyper, _saved_run_settings = split_run_settings(dict(meta["config"]))
    model = cls(hyper)
    model.options = options or FitOptions()
    read_state(src, model)
    check_sizes(src, model, meta)
    model.train_fingerprint_ = meta.get("train_fingerprint")
    model.privacy_ = meta.get("privacy")
    try:
        model._load_extra(src)
        model._after_load()
    except LmrecError:
        raise
    except (ValueError, KeyError, RuntimeError, IndexError) as exc:
        raise ArtifactError(f"{src}: the saved state does not fit the model ({exc})") from None
    return model
