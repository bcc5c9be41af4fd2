"""A user-vector model (hybrid, NCF) served from its exported ONNX scoring graph.

The model directory is an ordinary lmrec model directory (same ids, item table, history
and metadata as the model it came from) plus `model.onnx`; loading and scoring need ONNX
Runtime and NumPy only, never torch. Made from a trained model by `lmrec export`
(`from_model`), or fitted from data: `fit` trains the `source` model and exports it.

What the graph holds and what it does not is said in lmrec.models.compressed.user_graph:
known users are scored as the source scores them; a new history is not folded in and
new catalogue items are not added (both make new vectors by gradient steps or the
hybrid's text tower, which the export leaves out), so such requests are refused with
an error that says so, and the source model serves them.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np

from lmrec.errors import UnsupportedError
from lmrec.models.base import Recommender
from lmrec.models.compressed import Quantize
from lmrec.models.compressed.onnx_base import OnnxConfig, OnnxGraphModel

#: the families whose scoring graph exports here (user_graph.USER_MODELS, without torch)
EXPORTABLE = ("hybrid", "ncf")
#: users scored per graph run (bounds the batch x items x width activations of NCF)
_BATCH = 256


class OnnxUserConfig(OnnxConfig):
    source: Literal["hybrid", "ncf"] = "ncf"


class OnnxUserRecommender(OnnxGraphModel[OnnxUserConfig]):
    """Scores known users through ONNX Runtime (no fold-in; see the module docstring)."""

    name = "onnx-user"
    #: `user_known_`: 1 per user the graph scores, 0 once forgotten (the user tables are
    #: inside the graph, so forgetting a user empties their row here instead)
    state_attrs = ("unscorable_", "user_known_")
    tuning_grid: ClassVar[dict[str, list[Any]]] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user_known_: np.ndarray | None = None

    # ---- making one ------------------------------------------------------------------------
    @classmethod
    def from_model(
        cls, source: Recommender[Any], quantize: Quantize = "none", parity_users: int = 256
    ) -> OnnxUserRecommender:
        """The compressed copy of a trained hybrid or NCF model (same ids, items, history)."""
        if source.name not in EXPORTABLE:
            raise UnsupportedError(f"model '{source.name}' is not one of {', '.join(EXPORTABLE)}")
        model = cls._copy_of(source, quantize, parity_users)
        model._take_from(source)
        return model

    def _take_from(self, source: Recommender[Any]) -> None:
        from lmrec.models.compressed.user_graph import export_user_graph

        exported = export_user_graph(source)
        self.unscorable_ = exported.unscorable
        self.user_known_ = np.ones(source.n_users, dtype=np.float32)
        self._set_graph(source, exported.model, exported.tables, exported.params)

    # ---- scoring ---------------------------------------------------------------------------
    def score_users(self, users: np.ndarray) -> np.ndarray:
        """Scores (n, n_items) float32 of known users, as the source model gives them:
        NaN for items it could not score and for users forgotten since."""
        self._require_fitted()
        assert self.unscorable_ is not None and self.user_known_ is not None
        users = np.asarray(users, dtype=np.int64)
        out = np.empty((len(users), self.n_items), dtype=np.float32)
        for start in range(0, len(users), _BATCH):
            chunk = users[start : start + _BATCH]
            out[start : start + len(chunk)] = self._run({"users": chunk})
        out[self.user_known_[users] == 0] = np.nan
        out[:, self.unscorable_] = np.nan
        return out
