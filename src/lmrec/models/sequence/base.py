"""What SASRec and GRU4Rec share: config, ordered training sequences, next-item
training through the shared loop, scoring of ordered sequences, fold-in, save/load.

Order matters to these models, and a user x item matrix has none. So:
- `score_sequences(list of item-index arrays, oldest first)` is the exact entry point;
- `score_users` uses each user's training sequence, ordered by timestamp when fitted
  (ties keep the input order) and saved with the model;
- `recommend(Query(history=..., timestamps=...))` appends the query's items to the known
  user's sequence in the query's order, or merges them by time when timestamps are given;
- `score_histories(csr rows, timestamps=None)` orders each row by the matching
  timestamps matrix when given, and by item index otherwise (a matrix row has lost the
  order; prefer `score_sequences` where the order is known).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from pydantic import Field, model_validator
from torch import nn

from lmrec.core.sequences import left_pad
from lmrec.core.threads import torch_threads
from lmrec.data.dataset import Dataset
from lmrec.errors import ConfigError
from lmrec.models.capabilities import AddedItems
from lmrec.models.catalogue import upsert_items
from lmrec.models.neural.item_repr import (
    ItemRepresentation,
    TextSpec,
    item_text_matrix,
    item_texts,
)
from lmrec.models.neural.torch_base import (
    NetworkRecommender,
    TorchTrainConfig,
    flatten_state,
)
from lmrec.models.sequence.ordered import OrderedHistory, add_repeat_offset
from lmrec.models.sequence.transfer import start_from
from lmrec.training.loop import EpochTask
from lmrec.training.sequence_task import SequenceTask, Teacher, sequence_windows


class SequentialConfig(TorchTrainConfig):
    #: most epochs; with validation data training stops after `patience` epochs without
    #: progress (on ml-100k SASRec peaks after 30-45 epochs). 0 (with `init_from`): no
    #: training at all, the source model applied to this catalogue as it is (zero-shot)
    epochs: int = Field(100, ge=0)
    hidden: int = Field(64, ge=1)
    #: most recent items the model reads; longer histories train as several windows
    max_len: int = Field(50, ge=1)
    dropout: float = Field(0.2, ge=0.0, lt=1.0)
    #: "ce": softmax over all items; "chunked": the same, exactly, a chunk of `ce_chunk`
    #: items at a time (memory grows with the chunk, not the catalogue); "sampled": over
    #: n_negatives negatives drawn by `negatives`, corrected by their chance (`logq`)
    loss: Literal["ce", "chunked", "sampled"] = "ce"
    n_negatives: int = Field(256, ge=1)
    #: how sampled negatives are drawn: "uniform", "popularity" (count ** 0.75) or "mixed"
    negatives: Literal["uniform", "popularity", "mixed"] = "uniform"
    #: subtract the log of each candidate's chance of being drawn (sampled softmax)
    logq: bool = True
    ce_chunk: int = Field(8192, ge=1)
    #: with loss="sampled": use gBCE with this calibration t (0..1) instead of softmax
    gbce_t: float | None = Field(None, ge=0.0, le=1.0)
    #: "id" embedding, frozen "text" embedding through a projection, or both "fused"
    item_repr: Literal["id", "text", "fused"] = "id"
    fusion: Literal["sum", "gate"] = "sum"
    #: fused only: share of item occurrences trained through their text alone (so the
    #: text path can score new items by itself)
    id_dropout: float = Field(0.2, ge=0.0, lt=1.0)
    #: text and fused: how frozen text embeddings become item vectors: "linear", or
    #: "moe", a gated mixture of `adaptor_experts` parametric whitenings (UniSRec)
    text_adaptor: Literal["linear", "moe"] = "linear"
    adaptor_experts: int = Field(8, ge=1)
    #: joint training (text and fused): the top N layers of the text encoder train with
    #: the model, end to end (Recformer-style); the layers below run once. Every step
    #: runs the N layers over the catalogue, so use a GPU for real catalogues
    text_tune_layers: int = Field(0, ge=0)
    #: embedding pruning: items seen fewer than this many times in training share
    #: `rare_buckets` ID vectors (by a hash of their index), so the ID table grows with
    #: the popular items, not the catalogue; text and fused items keep their own text
    #: path. 0: every item its own ID vector
    min_item_count: int = Field(0, ge=0)
    rare_buckets: int = Field(1, ge=1)
    #: learn one score offset for items already in the user's sequence (see
    #: ItemRepresentation); it matters when seen items stay in the ranking
    repeat_bias: bool = True
    text: TextSpec = Field(default_factory=TextSpec)
    #: a trained model directory (text or fused items) whose network starts this one:
    #: transfer to another catalogue, whose items are known here by their text alone
    init_from: str | None = None
    #: a trained sequence model directory on the same catalogue whose soft targets the
    #: model also learns from (distillation; loss "ce"); see lmrec distil
    teacher: str | None = None
    #: share of the loss that follows the teacher (the rest follows the data)
    distil_weight: float = Field(0.5, ge=0.0, le=1.0)
    #: softening of both distributions before they are compared
    distil_temperature: float = Field(2.0, gt=0.0)
    #: compare the two distributions over the teacher's N best items only (each
    #: renormalised there); None: over the whole catalogue
    distil_top: int | None = Field(None, ge=2)

    @model_validator(mode="after")
    def _teacher_needs_full_softmax(self) -> SequentialConfig:
        if self.teacher is not None and self.loss != "ce":
            raise ValueError(f"teacher needs loss='ce' (got loss='{self.loss}')")
        return self

    @model_validator(mode="after")
    def _zero_epochs_need_a_source(self) -> SequentialConfig:
        if self.epochs == 0 and self.init_from is None:
            raise ValueError("epochs=0 trains nothing: give init_from (a trained model)")
        return self


SC = TypeVar("SC", bound=SequentialConfig)


class SequenceNetwork(nn.Module):
    """Tokens (B, L), left-padded, L <= max_len -> states (B, L, hidden); `items` turns
    tokens into vectors and scores states against every item."""

    items: ItemRepresentation
    #: the torch ONNX exporter that keeps this network's length dynamic: "dynamo" (the
    #: default), or "torchscript" for recurrent layers, which torch.export unrolls over
    #: the sample's length
    onnx_exporter: ClassVar[Literal["dynamo", "torchscript"]] = "dynamo"

    def for_export(self) -> SequenceNetwork:
        """This network set up for a traced export (ONNX): the same states, through
        operations an exported graph can hold. Called on a copy."""
        return self


class SequentialRecommender(NetworkRecommender[SC], OrderedHistory[SC]):
    """Base of next-item models; subclasses build the network in `_build_net`."""

    state_attrs = (
        "weights_",
        "seq_items_",
        "seq_times_",
        "seq_offsets_",
        "has_id_",
        "item_text_",
        "id_own_",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.has_id_: np.ndarray | None = None  # item occurred in training
        #: with min_item_count: whether each item has an ID vector of its own (the rest
        #: share the rare buckets; see pruned_rows)
        self.id_own_: np.ndarray | None = None
        self.item_text_: np.ndarray | None = None

    @abstractmethod
    def _build_net(self, items: ItemRepresentation) -> SequenceNetwork:
        """The network: tokens (B, L) -> states (B, L, hidden), with `.items`."""

    # ---- training ------------------------------------------------------------------------
    def _prepare(self, train: Dataset) -> None:
        self._store_sequences(train)
        counts = train.item_counts()
        # under privacy every item has an ID vector: which items have interactions is
        # itself something one user's data can change
        private = getattr(self.config, "privacy", None) is not None
        self.has_id_ = np.ones(train.n_items, bool) if private else counts > 0
        pruned = self.config.min_item_count > 0
        self.id_own_ = counts >= self.config.min_item_count if pruned else None
        reads_text = self.config.item_repr != "id" and not self.config.text_tune_layers
        self.item_text_ = self._text_for(train) if reads_text else None

    def _task(
        self, net: nn.Module, train: Dataset, valid: Dataset | None, device: torch.device
    ) -> EpochTask:
        cfg = self.config
        assert isinstance(net, SequenceNetwork)
        return SequenceTask(
            net,
            sequence_windows(self.sequences(), cfg.max_len + 1),
            self.n_items,
            cfg.batch_size,
            device,
            loss=cfg.loss,
            n_negatives=cfg.n_negatives,
            gbce_t=cfg.gbce_t,
            validate=self._validator(train, valid),
            negatives=cfg.negatives,
            logq=cfg.logq,
            chunk=cfg.ce_chunk,
            teacher=self._teacher(train, device),
        )

    def _teacher(self, train: Dataset, device: torch.device) -> Teacher | None:
        cfg = self.config
        if cfg.teacher is None:
            return None
        from lmrec.models.sequence.distil import load_teacher

        ids = np.asarray(train.item_map.ids)
        return load_teacher(
            cfg.teacher, ids, device, cfg.distil_weight, cfg.distil_temperature,
            SequentialRecommender, top=cfg.distil_top,
        )  # fmt: skip

    def _text_for(self, train: Dataset) -> np.ndarray:
        if train.items is None:
            raise ConfigError(
                f"item_repr='{self.config.item_repr}' needs item text, but the data has no "
                "item table; load items with text fields or use item_repr='id'"
            )
        return item_text_matrix(train.items, self.config.text)

    def _build(self, train: Dataset, device: torch.device) -> nn.Module:
        net = self._new_net(device)
        if self.config.init_from is not None:
            start_from(net, self.config.init_from, type(self))
        return net

    def _new_net(self, device: torch.device) -> SequenceNetwork:
        assert self.has_id_ is not None
        cfg, own = self.config, self.id_own_
        items = ItemRepresentation(
            len(self.has_id_),
            cfg.hidden,
            mode=cfg.item_repr,
            fusion=cfg.fusion,
            text=self.item_text_,
            has_id=self.has_id_,
            id_rows=None if own is None else pruned_rows(own, cfg.rare_buckets),
            id_table_rows=None if own is None else int(own.sum()) + cfg.rare_buckets + 1,
            id_dropout=cfg.id_dropout,
            repeat_bias=cfg.repeat_bias,
            adaptor=cfg.text_adaptor,
            experts=cfg.adaptor_experts,
            tower=self._encoder_top() if cfg.text_tune_layers else None,
        )
        return self._build_net(items).to(device)

    def _encoder_top(self) -> nn.Module:
        """The text encoder's top layers over the current catalogue (joint training);
        the lower layers' states are recomputed from the item table, never saved."""
        from lmrec.encoders.config import EncoderConfig
        from lmrec.encoders.layers import EncoderTop, split_encoder

        cfg = self.config
        if self.items is None or cfg.text.vectors_column is not None:
            raise ConfigError(
                "text_tune_layers trains the text encoder, so it needs item text (an item "
                "table, and no precomputed vectors_column)"
            )
        encoder = EncoderConfig(**cfg.text.encoder)
        lower, layers = split_encoder(
            encoder, item_texts(self.items, cfg.text), cfg.text_tune_layers
        )
        return EncoderTop(lower, layers)

    def _network(self) -> SequenceNetwork:
        net = self.net_
        assert isinstance(net, SequenceNetwork) and self._device is not None
        return net

    def network_copy(self, *, fresh: bool = False) -> SequenceNetwork:
        """A CPU copy of the trained network, or with `fresh` a newly initialised one of
        the same shape, to train with another objective (e.g. a policy learned from
        logged feedback, lmrec.feedback.reinforce). The model itself is not touched."""
        self._require_fitted()
        if fresh:
            return self._new_net(torch.device("cpu"))
        state = {k: v.detach().cpu().clone() for k, v in self._network().state_dict().items()}
        net = self._new_net(torch.device("cpu"))
        net.load_state_dict(state)
        return net

    # ---- scoring -------------------------------------------------------------------------
    @torch.no_grad()
    def score_sequences(self, sequences: list[np.ndarray], batch_size: int = 256) -> np.ndarray:
        """Next-item scores (n, n_items) float32 for item-index sequences, oldest first.
        An empty sequence gets NaN (nothing to predict from); items the model cannot
        represent (ID-only model, item unseen in training) get NaN."""
        self._require_fitted()
        net = self._network()
        assert self._device is not None
        net.eval()
        out = np.empty((len(sequences), self.n_items), dtype=np.float32)
        with torch_threads(self.options.threads):
            table = net.items.all_items()
            for start in range(0, len(sequences), batch_size):
                chunk = sequences[start : start + batch_size]
                tokens = torch.from_numpy(left_pad(chunk, self.config.max_len)).to(self._device)
                last = net(tokens)[:, -1]
                out[start : start + len(chunk)] = (last @ table.T).float().cpu().numpy()
            if net.items.repeat is not None:
                add_repeat_offset(out, sequences, net.items.repeat.item())
        empty = np.array([len(s) == 0 for s in sequences], dtype=bool)
        out[empty] = np.nan
        out[:, net.items.unscorable()] = np.nan
        return out

    # ---- new catalogue rows --------------------------------------------------------------
    def add_items(self, items: pd.DataFrame) -> AddedItems:
        """Take new catalogue rows (item_id plus text columns, or the vectors column)
        without refitting: with item_repr "text"/"fused" they are scored through their
        text at once; known ids get their text embedding replaced. An ID-only model adds
        them to the catalogue but cannot score them (listed in `without_text`)."""
        self._require_fitted()
        assert self.item_map is not None and self.has_id_ is not None
        frame, positions, known = upsert_items(self, items)
        n_old, n_new = len(self.has_id_), len(self.item_map)
        assert self.history_ is not None
        self.history_ = sp.csr_matrix(
            (self.history_.data, self.history_.indices, self.history_.indptr),
            shape=(self.history_.shape[0], n_new),
        )
        self.has_id_ = np.concatenate([self.has_id_, np.zeros(n_new - n_old, dtype=bool)])
        if self.id_own_ is not None:  # new items share the rare buckets (unused: no ID)
            self.id_own_ = np.concatenate([self.id_own_, np.zeros(n_new - n_old, dtype=bool)])
        if self.item_text_ is not None:
            assert self.items is not None
            rows = self.items.iloc[positions].reset_index(drop=True)
            text = np.vstack(
                [self.item_text_, np.zeros((n_new - n_old, self.item_text_.shape[1]), np.float32)]
            )
            text[positions] = item_text_matrix(rows, self.config.text)
            self.item_text_ = text
        self._rebuild_net(n_old)
        ids = frame["item_id"]
        return AddedItems(
            added=ids[~known].tolist(),
            updated=ids[known].tolist(),
            without_text=[] if self.config.item_repr != "id" else ids[~known].tolist(),
        )

    def _rebuild_net(self, n_old: int) -> None:
        """A new network over the grown catalogue with the trained weights; new items get
        zero ID vectors (unused: they have no ID signal). The old network is not touched,
        so copies of this model that share it keep working."""
        assert self._device is not None
        state = {k: v.detach().cpu() for k, v in self._network().state_dict().items()}
        net = self._new_net(torch.device("cpu"))
        for key, value in net.state_dict().items():
            grows = self.id_own_ is None  # a pruned table keeps its size
            if grows and key.endswith("id_emb.weight") and state[key].shape[0] == n_old + 1:
                state[key] = torch.cat([state[key], value[n_old + 1 :].zero_()])
        net.load_state_dict(state)
        self.net_ = net.to(self._device).eval()
        self.weights_ = flatten_state(net)

    def item_vectors(self) -> np.ndarray:
        self._require_fitted()
        with torch.no_grad():
            return self._network().items.all_items().float().cpu().numpy()


def pruned_rows(own: np.ndarray, buckets: int) -> np.ndarray:
    """Row of the pruned ID table (0 is padding) of each item: items marked `own` get rows
    1..n_own in index order, the rest share rows n_own + 1 .. n_own + buckets by a
    multiplicative hash of their index. Items added later come after every own item in
    index order, so the rows of own items never move."""
    n_own = int(own.sum())
    rows = np.empty(len(own), dtype=np.int64)
    rows[own] = np.arange(1, n_own + 1)
    rare = np.flatnonzero(~own)
    rows[rare] = n_own + 1 + (rare * 2654435761 % 2**32) % buckets
    return rows
