"""Models by name, imported lazily so `import lmrec` stays fast and torch loads only
when a model that needs it is asked for."""

from __future__ import annotations

import importlib
from typing import Any

from lmrec.errors import ConfigError
from lmrec.models.base import Recommender

# name -> "module:Class"; a module is imported only when its model is used.
_MODELS: dict[str, str] = {
    "random": "lmrec.models.baseline.popularity:RandomRecommender",
    "pop": "lmrec.models.baseline.popularity:PopularityRecommender",
    "itemknn": "lmrec.models.neighbours.knn:ItemKNN",
    "userknn": "lmrec.models.neighbours.knn:UserKNN",
    "ease": "lmrec.models.neighbours.ease:EASE",
    "rp3beta": "lmrec.models.neighbours.rp3beta:RP3beta",
    "als": "lmrec.models.factorisation.implicit_mf:ALS",
    "bpr": "lmrec.models.factorisation.implicit_mf:BPR",
    "mf": "lmrec.models.factorisation.mf:BiasedMF",
    "fedmf": "lmrec.models.federated.fedmf:FedMF",
    "content": "lmrec.models.text.content:ContentRecommender",
    "tfidf": "lmrec.models.text.tfidf:TfidfRecommender",
    "hybrid": "lmrec.models.neural.hybrid:HybridRecommender",
    "fusion": "lmrec.models.ensemble.fusion:FusionRecommender",
    "sasrec": "lmrec.models.sequence.sasrec:SASRec",
    "gru4rec": "lmrec.models.sequence.gru4rec:GRU4Rec",
    "ncf": "lmrec.models.neural.ncf:NCF",
    "rerank": "lmrec.models.ranking.rerank:RerankRecommender",
    "onnx": "lmrec.models.compressed.onnx_sequence:OnnxSequenceRecommender",
    "onnx-user": "lmrec.models.compressed.onnx_user:OnnxUserRecommender",
}


def register(name: str, target: str) -> None:
    """Add a model under `name` ("package.module:ClassName"), e.g. from a plugin."""
    _MODELS[name] = target


def available_models() -> list[str]:
    return sorted(_MODELS)


def get_model_class(name: str) -> type[Recommender]:
    try:
        target = _MODELS[name]
    except KeyError:
        raise ConfigError(
            f"unknown model '{name}' (available: {', '.join(available_models())})"
        ) from None
    module_name, cls_name = target.split(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    return cls


def create_model(name: str, config: dict[str, Any] | None = None, **overrides: Any) -> Recommender:
    """A new, unfitted model by name with its config validated."""
    return get_model_class(name)(config, **overrides)
