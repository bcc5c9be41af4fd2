"""What every model served from an exported ONNX scoring graph shares: its config (the
source model and its settings, how the weights are stored, the parity sample), making
the graph smaller and checking it against the source, `model.onnx` beside the usual
artifact, and the ONNX Runtime session. Loading and scoring import no torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Self, TypeVar

import numpy as np
from pydantic import Field

from lmrec.data.dataset import Dataset
from lmrec.errors import ArtifactError
from lmrec.models.artifact_format import read_meta
from lmrec.models.base import ModelConfig, Recommender
from lmrec.models.compressed import Quantize

GRAPH_FILE = "model.onnx"


class OnnxConfig(ModelConfig):
    #: the model trained (and exported) when this one is fitted from data
    source: str
    #: its settings; after fitting or export, every setting of the model it came from
    source_config: dict[str, Any] = Field(default_factory=dict)
    #: how the weights are stored: "none" (fp32), "int8" (dense layers and item and user
    #: tables), "fp16" (every weight, computed in fp32)
    quantize: Quantize = "none"
    #: known users compared with the source model at export (top-10 overlap, score error)
    parity_users: int = Field(256, ge=1)


OC = TypeVar("OC", bound=OnnxConfig)


class OnnxGraphModel(Recommender[OC]):
    """Base of the models that score through an exported graph (`graph_`)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unscorable_: np.ndarray | None = None  # items the source model could not score
        self.graph_: bytes | None = None
        #: parity with the source model, measured when this model was made
        self.parity_: dict[str, float | int] | None = None
        #: parameters of the source model (its fp32 weights are 4 bytes each)
        self.source_params_: int | None = None
        self._session: Any = None

    def _fit(self, train: Dataset, valid: Dataset | None) -> None:
        """Fitted from data: train the source model, then take the graph from it."""
        from lmrec.models.registry import create_model

        # this model's seed is the source's, unless its settings name another
        settings = {"seed": self.config.seed, **self.config.source_config}
        source = create_model(self.config.source, settings)
        source.fit(train, valid, self.options)
        self._take_from(source)

    def _take_from(self, source: Recommender[Any]) -> None:
        """Export `source`'s scoring graph into this model (each kind of graph its own)."""
        raise NotImplementedError

    @classmethod
    def _copy_of(cls, source: Recommender[Any], quantize: Quantize, parity_users: int) -> Self:
        """A new model with `source`'s settings, ids, items and history (no graph yet)."""
        model = cls(
            {
                "source": source.name,
                "source_config": source.config.model_dump(mode="json"),
                "quantize": quantize,
                "parity_users": parity_users,
                "seed": source.config.seed,
            }
        )
        model.options = source.options
        model.user_map, model.item_map = source.user_map, source.item_map
        model.history_, model.items = source.history_, source.items
        model.train_fingerprint_ = source.train_fingerprint_
        return model

    def _set_graph(
        self, source: Recommender[Any], graph: Any, tables: list[np.ndarray], params: int
    ) -> None:
        """Store `graph` (an onnx.ModelProto) shrunk as the config says, open it, and
        measure how closely it follows `source`."""
        from lmrec.models.compressed.parity import check_parity
        from lmrec.models.compressed.shrink import shrink

        self.config = self.config.model_copy(
            update={"source_config": source.config.model_dump(mode="json")}
        )
        self.graph_ = shrink(graph, self.config.quantize, tables)
        self.source_params_ = params
        self._open_session()
        self.parity_ = check_parity(source, self, self.config.parity_users, self.config.seed)

    # ---- persistence -----------------------------------------------------------------------
    def save(self, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
        """As any model, plus `model.onnx`; the parity check goes into model.json."""
        self._require_fitted()
        assert self.graph_ is not None
        compression = {
            "format": "onnx",
            "quantize": self.config.quantize,
            "graph_bytes": len(self.graph_),
            "source_params": self.source_params_,
            "parity": self.parity_,
        }
        return super().save(path, {**(extra or {}), "compression": compression})

    def _save_extra(self, path: Path) -> None:
        assert self.graph_ is not None
        (path / GRAPH_FILE).write_bytes(self.graph_)

    def _load_extra(self, path: Path) -> None:
        graph = path / GRAPH_FILE
        if not graph.exists():
            raise ArtifactError(f"{path}: incomplete model directory ({GRAPH_FILE} missing)")
        self.graph_ = graph.read_bytes()
        compression = read_meta(path).get("compression", {})
        self.parity_ = compression.get("parity")
        self.source_params_ = compression.get("source_params")

    def _after_load(self) -> None:
        self._open_session()

    def _open_session(self) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.log_severity_level = 3
        if self.options.threads is not None:
            options.intra_op_num_threads = self.options.threads
            options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(
                self.graph_, options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # ONNX Runtime raises its own error types for bad graphs
            raise ArtifactError(
                f"{GRAPH_FILE} is not a graph ONNX Runtime can run ({exc})"
            ) from None

    def _run(self, feeds: dict[str, np.ndarray]) -> np.ndarray:
        """The graph's scores for one batch of inputs."""
        scores: np.ndarray = self._session.run(["scores"], feeds)[0]
        return scores
