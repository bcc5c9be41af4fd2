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
from typing import Any, Literal, TypeVar

import numpy as np
import pandas as pd
import scipy.sparse as sp
import torch
from pydantic import Field, model_validator
from torch import nn

from lmrec.core.query import Query
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
from lmrec.models.sequence.transfer import start_from
from lmrec.training.loop import EpochTask
from lmrec.training.sequence_task import SequenceTask, left_pad, sequence_windows


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
    #: learn one score offset for items already in the user's sequence (see
    #: ItemRepresentation); it matters when seen items stay in the ranking
    repeat_bias: bool = True
    text: TextSpec = Field(default_factory=TextSpec)
    #: a trained model directory (text or fused items) whose network starts this one:
    #: transfer to another catalogue, whose items are known here by their text alone
    init_from: str | None = None

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


class SequentialRecommender(NetworkRecommender[SC]):
    """Base of next-item models; subclasses build the network in `_build_net`."""

    state_attrs = ("weights_", "seq_items_", "seq_times_", "seq_offsets_", "has_id_", "item_text_")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.seq_items_: np.ndarray | None = None  # all users' items, user-major, time-ordered
        self.seq_times_: np.ndarray | None = None
        self.seq_offsets_: np.ndarray | None = None  # user u: [offsets[u], offsets[u+1])
        self.has_id_: np.ndarray | None = None  # item occurred in training
        self.item_text_: np.ndarray | None = None

    @abstractmethod
    def _build_net(self, items: ItemRepresentation) -> SequenceNetwork:
        """The network: tokens (B, L) -> states (B, L, hidden), with `.items`."""

    # ---- training ------------------------------------------------------------------------
    def _prepare(self, train: Dataset) -> None:
        self._store_sequences(train)
        # under privacy every item has an ID vector: which items have interactions is
        # itself something one user's data can change
        private = getattr(self.config, "privacy", None) is not None
        self.has_id_ = np.ones(train.n_items, bool) if private else train.item_counts() > 0
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
        )

    def _text_for(self, train: Dataset) -> np.ndarray:
        if train.items is None:
            raise ConfigError(
                f"item_repr='{self.config.item_repr}' needs item text, but the data has no "
                "item table; load items with text fields or use item_repr='id'"
            )
        return item_text_matrix(train.items, self.config.text)

    def _store_sequences(self, data: Dataset) -> None:
        order = np.lexsort((np.arange(data.n_interactions), data.timestamps, data.users_idx))
        self.seq_items_ = data.items_idx[order].astype(np.int32)
        self.seq_times_ = data.timestamps[order].astype(np.int64)
        bounds = np.searchsorted(data.users_idx[order], np.arange(data.n_users + 1))
        self.seq_offsets_ = bounds.astype(np.int64)

    def _forget_rows(self, users: np.ndarray) -> None:
        """Also empty these users' stored sequences (what a known user is scored from)."""
        assert self.seq_items_ is not None and self.seq_offsets_ is not None
        assert self.seq_times_ is not None
        lengths = np.diff(self.seq_offsets_)
        keep = np.ones(len(lengths), dtype=bool)
        keep[users] = False
        rows = np.repeat(keep, lengths)
        self.seq_items_ = self.seq_items_[rows]
        self.seq_times_ = self.seq_times_[rows]
        self.seq_offsets_ = np.concatenate([[0], np.cumsum(np.where(keep, lengths, 0))])
        super()._forget_rows(users)

    def sequences(self) -> list[np.ndarray]:
        """Each known user's training items, oldest first."""
        assert self.seq_items_ is not None and self.seq_offsets_ is not None
        return np.split(self.seq_items_, self.seq_offsets_[1:-1])

    def _build(self, train: Dataset, device: torch.device) -> nn.Module:
        net = self._new_net(device)
        if self.config.init_from is not None:
            start_from(net, self.config.init_from, type(self))
        return net

    def _new_net(self, device: torch.device) -> SequenceNetwork:
        assert self.has_id_ is not None
        cfg = self.config
        items = ItemRepresentation(
            len(self.has_id_),
            cfg.hidden,
            mode=cfg.item_repr,
            fusion=cfg.fusion,
            text=self.item_text_,
            has_id=self.has_id_,
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

    # ---- scoring -------------------------------------------------------------------------
    def score_users(self, users: np.ndarray) -> np.ndarray:
        self._require_fitted()
        assert self.seq_items_ is not None and self.seq_offsets_ is not None
        offsets = self.seq_offsets_
        seqs = [self.seq_items_[offsets[u] : offsets[u + 1]] for u in np.asarray(users)]
        return self.score_sequences(seqs)

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
                _add_repeat_offset(out, sequences, net.items.repeat.item())
        empty = np.array([len(s) == 0 for s in sequences], dtype=bool)
        out[empty] = np.nan
        out[:, net.items.unscorable()] = np.nan
        return out

    def score_histories(
        self, histories: sp.csr_matrix, timestamps: sp.csr_matrix | None = None
    ) -> np.ndarray:
        """Rows of a user x item matrix; ordered by `timestamps` (same sparsity pattern)
        when given, else by item index (the row carries no order)."""
        rows = sp.csr_matrix(histories)
        rows.sort_indices()
        seqs = np.split(rows.indices.astype(np.int64), rows.indptr[1:-1])
        if timestamps is not None:
            times = sp.csr_matrix(timestamps)
            times.sort_indices()
            if times.shape != rows.shape or not np.array_equal(times.indices, rows.indices):
                raise ConfigError("timestamps must have the same shape and entries as histories")
            stamp = np.split(times.data, times.indptr[1:-1])
            seqs = [s[np.argsort(t, kind="stable")] for s, t in zip(seqs, stamp, strict=True)]
        return self.score_sequences(seqs)

    def _score_query(self, query: Query) -> tuple[np.ndarray, np.ndarray]:
        """Known user + fresh history: append in the query's order (or merge by time)."""
        if not query.history:
            return super()._score_query(query)
        assert self.user_map is not None and self.item_map is not None
        assert self.seq_items_ is not None and self.seq_offsets_ is not None
        assert self.seq_times_ is not None
        added = self.item_map.lookup(query.history)
        items, times = np.zeros(0, np.int64), np.zeros(0, np.int64)
        if query.user_id is not None and query.user_id in self.user_map:
            u = self.user_map.index_of(query.user_id)
            lo, hi = self.seq_offsets_[u], self.seq_offsets_[u + 1]
            items, times = self.seq_items_[lo:hi].astype(np.int64), self.seq_times_[lo:hi]
        if query.timestamps is not None:
            if len(query.timestamps) != len(added):
                raise ConfigError(
                    f"query has {len(added)} history items but {len(query.timestamps)} "
                    "timestamps; give one timestamp per item or none"
                )
            merged_t = np.concatenate([times, np.asarray(query.timestamps, dtype=np.int64)])
            seq = np.concatenate([items, added])[np.argsort(merged_t, kind="stable")]
        else:
            seq = np.concatenate([items, added])
        return self.score_sequences([seq])[0], np.unique(seq)

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
            if key.endswith("id_emb.weight") and state[key].shape[0] == n_old + 1:
                state[key] = torch.cat([state[key], value[n_old + 1 :].zero_()])
        net.load_state_dict(state)
        self.net_ = net.to(self._device).eval()
        self.weights_ = flatten_state(net)

    def item_vectors(self) -> np.ndarray:
        self._require_fitted()
        with torch.no_grad():
            return self._network().items.all_items().float().cpu().numpy()


def _add_repeat_offset(scores: np.ndarray, sequences: list[np.ndarray], offset: float) -> None:
    """Add the learned repeat offset, once, to every item of each row's whole sequence
    (in place). The whole history counts, not only the max_len items the network reads:
    an item watched long ago has been watched all the same."""
    lengths = np.array([len(s) for s in sequences], dtype=np.int64)
    if not lengths.sum():
        return
    rows = np.repeat(np.arange(len(sequences)), lengths)
    cols = np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences])
    scores[rows, cols] += offset  # buffered: an item seen twice is offset once
