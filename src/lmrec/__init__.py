"""lmrec: recommendations from behaviour and pretrained language models.

The common entry points are importable from the top level; they are loaded on first use
so that `import lmrec` stays fast and never imports torch:

    import lmrec
    ds = lmrec.load_dataset("ml-100k")
    split = lmrec.make_split(ds, "ratio", seed=42)
    model = lmrec.create_model("ease").fit(split.train)
    lmrec.evaluate(model, split.test, exclude=[split.train, split.valid]).summary()
    model.recommend(lmrec.Query(user_id="196", k=10))
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "load_dataset": "lmrec.data.loading",
    "make_split": "lmrec.data.splitters",
    "Dataset": "lmrec.data.dataset",
    "create_model": "lmrec.models.registry",
    "available_models": "lmrec.models.registry",
    "load_model": "lmrec.models.artifacts",
    "save_model": "lmrec.models.artifacts",
    "Query": "lmrec.core.query",
    "FitOptions": "lmrec.core.options",
    "evaluate": "lmrec.evaluation.runner",
    "LmrecError": "lmrec.errors",
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'lmrec' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
