"""A sequence model (SASRec) served from its exported ONNX scoring graph.

The model directory is an ordinary lmrec model directory (same ids, item table,
history and metadata as the model it came from) plus `model.onnx`; loading and scoring
need ONNX Runtime and NumPy only, never torch. It is made from a trained model by
`lmrec export` (`from_model`), or fitted from data like any model: `fit` trains the
`source` model with `source_config` and exports it.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np

from lmrec.core.sequences import left_pad
from lmrec.errors import UnsupportedError
from lmrec.models.base import Recommender
from lmrec.models.compressed import Quantize
from lmrec.models.compressed.onnx_base import OnnxConfig, OnnxGraphModel
from lmrec.models.sequence.ordered import SEQUENCE_ATTRS, OrderedHistory

#: the families whose scoring graph exports
EXPORTABLE = ("sasrec", "gru4rec")


class OnnxSequenceConfig(OnnxConfig):
    source: Literal["sasrec", "gru4rec"] = "sasrec"


class OnnxSequenceRecommender(
    OnnxGraphModel[OnnxSequenceConfig], OrderedHistory[OnnxSequenceConfig]
):
    """Scores histories through ONNX Runtime; fold-in of new histories without refit."""

    name = "onnx"
    state_attrs = (*SEQUENCE_ATTRS, "unscorable_")
    tuning_grid: ClassVar[dict[str, list[Any]]] = {}

    # ---- making one ------------------------------------------------------------------------
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
        model = cls._copy_of(source, quantize, parity_users)
        model._take_from(source)
        return model

    def _take_from(self, source: Recommender[Any]) -> None:
        """Export `source`'s scoring graph, shrink it, and measure how closely it follows."""
        from lmrec.models.compressed.graph import export_graph
        from lmrec.models.sequence.base import SequentialRecommender

        assert isinstance(source, SequentialRecommender)
        net = source._network()
        self.seq_items_, self.seq_times_ = source.seq_items_, source.seq_times_
        self.seq_offsets_ = source.seq_offsets_
        self.unscorable_ = net.items.unscorable()
        graph, table = export_graph(net)
        params = sum(p.numel() for p in net.parameters())
        self._set_graph(source, graph, [table], params)

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
            out[start : start + len(chunk)] = self._run(feeds)
        empty = np.array([len(s) == 0 for s in sequences], dtype=bool)
        out[empty] = np.nan
        out[:, self.unscorable_] = np.nan
        return out
