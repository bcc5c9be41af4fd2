"""A sequence model (SASRec) served from its exported ONNX scoring graph.

The model directory is an ordinary lmrec model directory (same ids, item table,
history and metadata as the model it came from) plus `model.onnx`; loading and scoring
need ONNX Runtime and NumPy only, never torch. It is made from a trained model by
`lmrec export` (`from_model`), or fitted from data like any model: `fit` trains the
`source` model with `source_config` and exports it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
from pydantic import Field

from lmrec.core.sequences import left_pad
from lmrec.data.dataset import Dataset
from lmrec.errors import ArtifactError, UnsupportedError
from lmrec.models.artifact_format import read_meta
from lmrec.models.base import ModelConfig, Recommender
from lmrec.models.compressed import Quantize
from lmrec.models.sequence.ordered import SEQUENCE_ATTRS, OrderedHistory

GRAPH_FILE = "model.onnx"
#: the families whose scoring graph exports
EXPORTABLE = ("sasrec", "gru4rec")


class OnnxSequenceConfig(ModelConfig):
    #: the model trained (and exported) when this one is fitted from data
    source: Literal["sasrec", "gru4rec"] = "sasrec"
    #: its settings; after fitting or export, every setting of the model it came from
    source_config: dict[str, Any] = Field(default_factory=dict)
    #: how the weights are stored: "none" (fp32), "int8" (dense layers and item table),
    #: "fp16" (every weight, computed in fp32)
    quantize: Quantize = "none"
    #: known users compared with the source model at export (top-10 overlap, score error)
    parity_users: int = Field(256, ge=1)


class OnnxSequenceRecommender(OrderedHistory[OnnxSequenceConfig]):
    """Scores histories through ONNX Runtime; fold-in of new histories without refit."""

    name = "onnx"
    state_attrs = (*SEQUENCE_ATTRS, "unscorable_")
    tuning_grid: ClassVar[dict[str, list[Any]]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.unscorable_: np.ndarray | None = None  # items the source model could not score
        self.graph_: bytes | None = None
        #: parity with the source model, measured when this model was made
        self.parity_: dict[str, float | int] | None = None
        #: parameters of the source model (its fp32 weights are 4 bytes each)
        self.source_params_: int | None = None
        self._session: Any = None

    # ---- making one ------------------------------------------------------------------------
    def _fit(self, train: Dataset, valid: Dataset | None) -> None:
        from lmrec.models.registry import create_model

        # this model's seed is the source's, unless its settings name another
        settings = {"seed": self.config.seed, **self.config.source_config}
        source = create_model(self.config.source, settings)
        source.fit(train, valid, self.options)
        self._take_from(source)

    @classmethod
    def from_model(
        cls, source: Recommender[Any], quantize: Quantize = "none", parity_users: int = 256
    ) -> OnnxSequenceRecommender:
        """The compressed copy of a trained sequence model (same ids, items, history)."""
        if source.name not in EXPORTABLE:
            raise UnsupportedError(
                f"model '{source.name}' has no ONNX export yet (exportable: "
                f"{', '.join(EXPORTABLE)})"
            )
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
        model._take_from(source)
        return model

    def _take_from(self, source: Recommender[Any]) -> None:
        """Export `source`'s scoring graph, shrink it, and measure how closely it follows."""
        from lmrec.models.compressed.graph import export_graph
        from lmrec.models.compressed.parity import check_parity
        from lmrec.models.compressed.shrink import shrink
        from lmrec.models.sequence.base import SequentialRecommender

        assert isinstance(source, SequentialRecommender)
        self.config = self.config.model_copy(
            update={"source_config": source.config.model_dump(mode="json")}
        )
        net = source._network()
        self.seq_items_, self.seq_times_ = source.seq_items_, source.seq_times_
        self.seq_offsets_ = source.seq_offsets_
        self.unscorable_ = net.items.unscorable()
        table_shape = (source.n_items + 1, int(net.items.dim))
        self.graph_ = shrink(export_graph(net), self.config.quantize, table_shape)
        self.source_params_ = sum(p.numel() for p in net.parameters())
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

    # ---- scoring ---------------------------------------------------------------------------
    @property
    def max_len(self) -> int:
        return int(self.config.source_config.get("max_len", 50))

    def score_sequences(self, sequences: list[np.ndarray], batch_size: int = 256) -> np.ndarray:
        """Next-item scores (n, n_items) float32, as the source model gives them: NaN for
        an empty sequence and for items the source model could not score."""
        self._require_fitted()
        assert self.unscorable_ is not None
        out = np.empty((len(sequences), self.n_items), dtype=np.float32)
        for start in range(0, len(sequences), batch_size):
            chunk = sequences[start : start + batch_size]
            longest = max([len(s) for s in chunk] + [1])
            feeds = {"tokens": left_pad(chunk, self.max_len), "history": left_pad(chunk, longest)}
            out[start : start + len(chunk)] = self._session.run(["scores"], feeds)[0]
        empty = np.array([len(s) == 0 for s in sequences], dtype=bool)
        out[empty] = np.nan
        out[:, self.unscorable_] = np.nan
        return out
