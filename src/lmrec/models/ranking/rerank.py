"""Two-stage ranking: a retriever proposes candidates, a click model orders them.

`retriever` is any registered model; it proposes each user's top `candidates` unseen
items. The ranker (`ctr`: DeepFM; `fm` and `lr` as baselines; lmrec.models.ranking.click_net)
predicts the chance that the user clicks each candidate from user attributes, item
attributes, text embeddings and the retriever's own score and rank.

Training learns from the retriever's mistakes. A `ranker_holdout` share of each user's
training interactions is held back (at random like a ratio split's held-out part, or the
latest with ranker_split="latest"), a copy of the retriever is fit on the rest, and
its candidates for those users are labelled: a click where the user took the item (with
a value >= `click_threshold` when one is set, on rated data), no click otherwise (a
candidate never touched, or a lower rating). The served retriever is then fit on all of the
training data. With validation data, the ranker stops early on the validation NDCG@10 of
the re-ranked lists.

The `cross-encoder` ranker (lmrec.models.ranking.cross_ranker) reads text instead: the
user's recent item texts with the candidate's, trained on the same held-back clicks and
on candidates the user never touched.

The `llm` ranker (lmrec.models.ranking.llm_ranker) is not trained: a small instruct
language model scores each candidate's title after a prompt of the user's recent titles.

Scores: candidates get the ranker's click logit; every other item keeps the retriever's
order below the lowest candidate, so the model ranks the whole catalogue like any other.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
import torch
from pydantic import Field, field_validator, model_validator

from lmrec.core.ranking import NO_USER, mask_rows, tie_priority, top_k
from lmrec.core.threads import torch_threads
from lmrec.core.validation import ndcg_at_k, users_with_targets
from lmrec.data.dataset import Dataset
from lmrec.encoders.base import normalize_rows
from lmrec.errors import ArtifactError, ConfigError, DataError
from lmrec.models.base import Recommender
from lmrec.models.capabilities import FoldsIn, PredictsClicks, ScoresSequences
from lmrec.models.neural.item_repr import TextSpec
from lmrec.models.neural.torch_base import TorchTrainConfig, flatten_state, load_flat_state
from lmrec.models.ranking import cross_ranker as XR
from lmrec.models.ranking import features as F
from lmrec.models.ranking import llm_ranker as LR
from lmrec.models.ranking.click_net import ClickNet, Vocab
from lmrec.models.ranking.click_task import ClickTask, ItemTensors, PairTensors, predict_logits
from lmrec.training.device import resolve_device, seed_everything
from lmrec.training.loop import LoopSettings, TrainResult, run_training

_RETRIEVER_DIR = "retriever"
_SIGNALS_DIR = "signals"
_CROSS_DIR = "cross-encoder"
#: users re-ranked per pass when scoring many (bounds the pair arrays)
_USERS_PER_PASS = 512

#: ranker name -> click network architecture
RANKERS: dict[str, Literal["lr", "fm", "deepfm"]] = {"ctr": "deepfm", "fm": "fm", "lr": "lr"}


class RerankConfig(TorchTrainConfig):
    #: registry name of the model that proposes candidates
    retriever: str = "ease"
    #: the retriever's own config, e.g. {"reg": 300}
    retriever_config: dict[str, Any] = Field(default_factory=dict)
    #: other models whose scores of the candidates the ranker reads too (z-scored per
    #: user), e.g. ["als", "content"]; each is fit like the retriever
    signals: list[str] = Field(default_factory=list)
    #: their configs by name, e.g. {"als": {"factors": 64}}
    signal_configs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: candidates re-ranked per user
    candidates: int = Field(100, ge=1)
    #: "ctr" (DeepFM), or the baselines "fm" (factorisation machine), "lr" (logistic),
    #: "cross-encoder" (MiniLM reading the user's recent titles with the candidate's),
    #: or "llm" (a small language model scoring the candidate's title after the user's
    #: recent titles; untrained, needs the llm extra)
    ranker: Literal["ctr", "fm", "lr", "cross-encoder", "llm"] = "ctr"
    #: cross-encoder only: training pairs (about half clicks), recent items in the
    #: query, tokens read per pair, epochs, batch size and learning rate
    cross_pairs: int = Field(2000, ge=2)
    cross_history: int = Field(5, ge=1)
    cross_max_tokens: int = Field(128, ge=8, le=512)
    cross_epochs: int = Field(1, ge=1)
    cross_batch_size: int = Field(32, ge=1)
    cross_lr: float = Field(3e-5, gt=0)
    #: llm only: recent titles in the prompt, candidates scored per forward pass, and
    #: how a title's token log-probabilities make its score ("mean": titles of any
    #: length compete evenly; "sum": the title's whole log-likelihood)
    llm_history: int = Field(5, ge=1, le=50)
    llm_batch_size: int = Field(16, ge=1)
    llm_score: Literal["mean", "sum"] = "mean"
    #: share of the language model in the order: candidates are ordered by
    #: llm_mix x z(llm score) + (1 - llm_mix) x z(retriever score), z-scored over each
    #: user's candidates; 1: the language model alone
    llm_mix: float = Field(1.0, ge=0.0, le=1.0)
    #: share of each user's training interactions the ranker learns to predict
    ranker_holdout: float = Field(0.2, gt=0.0, lt=1.0)
    #: which ones: "random" (like a ratio split's held-out part) or "latest" (like a
    #: temporal split, and like serving, which predicts what comes next)
    ranker_split: Literal["random", "latest"] = "random"
    #: what the ranker learns to predict on rated data: None, any interaction (what the
    #: ranking metrics count as relevant); a number, values at or above it (e.g. 4.0:
    #: liked), lower ratings being non-clicks
    click_threshold: float | None = None
    #: more heads (multi-task, shared bottom): each is a click at a value >= its entry
    #: (None: any interaction), e.g. [4.0, 5.0] for "liked" and "loved" on MovieLens
    extra_heads: list[float | None] = Field(default_factory=list)
    #: the ranking orders by this weighted sum of the heads' log-odds (first the main
    #: head, then extra_heads); None: the main head alone
    head_weights: list[float] | None = None
    #: the head whose probability the click metrics read (0: the main head)
    click_head: int = Field(0, ge=0)
    #: size of each field's vector, the MLP's widths (ctr only) and its dropout
    dim: int = Field(16, ge=1)
    hidden: tuple[int, ...] = (128, 64)
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    #: weight of the listwise term (softmax cross-entropy of each user's clicked
    #: candidates among theirs) added to the pointwise cross-entropy; 0: pointwise only
    list_weight: float = Field(1.0, ge=0.0)
    #: give each item its own learned vector (False: items are read by their
    #: attributes and text alone)
    item_ids: bool = True
    #: read item text embeddings (MiniLM by default; False: no text fields)
    use_text: bool = True
    text: TextSpec = Field(default_factory=TextSpec)
    use_cache: bool = True
    epochs: int = Field(20, ge=1)
    batch_size: int = Field(1024, ge=1)
    lr: float = Field(2e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    patience: int = Field(3, ge=1)

    @model_validator(mode="after")
    def _heads_fit(self) -> RerankConfig:
        n = 1 + len(self.extra_heads)
        if self.head_weights is not None and len(self.head_weights) != n:
            raise ValueError(f"head_weights needs {n} values, one per head")
        if self.click_head >= n:
            raise ValueError(f"click_head must be below the number of heads ({n})")
        return self

    @model_validator(mode="after")
    def _cross_reads_text_alone(self) -> RerankConfig:
        if self.ranker in ("cross-encoder", "llm") and self.signals:
            raise ValueError(f"the {self.ranker} ranker reads text only; drop `signals`")
        return self

    @field_validator("signals")
    @classmethod
    def _distinct_signals(cls, names: list[str]) -> list[str]:
        if len(set(names)) != len(names) or "rerank" in names:
            raise ValueError("each signal model may appear once, and not rerank itself")
        return names

    @field_validator("retriever")
    @classmethod
    def _not_itself(cls, name: str) -> str:
        if name == "rerank":
            raise ValueError("a rerank model cannot retrieve for itself; name another model")
        return name


class RerankRecommender(Recommender[RerankConfig]):
    """A retriever's top candidates re-ordered by a click model."""

    name = "rerank"
    state_attrs = (
        "weights_",
        "user_codes_",
        "item_codes_",
        "item_genres_",
        "item_text_",
        "item_pop_",
        "max_activity_",
        "vocab_",
        "user_recent_",
    )
    tuning_grid: ClassVar[dict[str, list[Any]]] = {"ranker_split": ["random", "latest"]}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from lmrec.models.registry import get_model_class

        for name in [self.config.retriever, *self.config.signals]:
            get_model_class(name)  # an unknown name fails here, not at fit
        unknown = set(self.config.signal_configs) - set(self.config.signals)
        if unknown:
            raise ConfigError(
                f"rerank: signal_configs names {sorted(unknown)}, which are not signals"
            )
        self.retriever_: Recommender[Any] | None = None
        self.signals_: list[Recommender[Any]] = []
        self.weights_: np.ndarray | None = None
        self.user_codes_: np.ndarray | None = None
        self.item_codes_: np.ndarray | None = None
        self.item_genres_: np.ndarray | None = None
        self.item_text_: np.ndarray | None = None
        self.item_pop_: np.ndarray | None = None
        self.max_activity_: np.ndarray | None = None
        self.vocab_: np.ndarray | None = None
        self.user_recent_: np.ndarray | None = None
        self.cross_: XR.CrossRanker | None = None
        self.llm_: LR.LlmRanker | None = None
        self._item_texts: list[str] = []
        self.net_: ClickNet | None = None
        self.training_: TrainResult | None = None
        self._items_t: ItemTensors | None = None
        self._device = torch.device("cpu")

    # ---- training ------------------------------------------------------------------------
    def _fit(self, train: Dataset, valid: Dataset | None) -> None:
        cfg = self.config
        self._device = resolve_device(self.options.device)
        has_id = train.item_counts() > 0
        self.user_codes_ = F.user_codes(train.users, train.n_users)
        self.item_codes_ = F.item_codes(train.items, train.n_items, has_id & cfg.item_ids)
        self.item_genres_ = F.genre_matrix(train.items, train.n_items)
        self.item_text_ = self._item_text(train)
        self.item_pop_ = F.item_popularity(train.csr)
        self.max_activity_ = np.array(float(train.user_counts().max(initial=1)))
        self.vocab_ = np.array(
            [
                *(int(c) + 1 for c in self.user_codes_.max(axis=0, initial=0)),
                21,
                train.n_items + 1,
                self.item_genres_.shape[1],
                self.item_text_.shape[1],
                len(F.DENSE) + len(cfg.signals),
            ],
            dtype=np.int64,
        )
        if cfg.ranker == "llm":
            self._fit_llm(train, valid)
            return
        inner, targets = hold_back(train, cfg.ranker_holdout, cfg.ranker_split, cfg.seed)
        if cfg.ranker == "cross-encoder":
            self._fit_cross(train, valid, inner, targets)
            return
        pairs, labels = self._training_pairs(train, inner, targets)
        if labels[:, 0].sum() == 0:
            raise DataError(
                f"rerank: none of the retriever's {cfg.candidates} candidates was taken in "
                "the held-back interactions, so there is nothing to learn; raise "
                "`candidates` or `ranker_holdout`, or use another retriever"
            )
        self.retriever_ = self._fitted(self._new_retriever(), train, valid)
        self.signals_ = [self._fitted(self._new_signal(n), train, valid) for n in cfg.signals]
        with torch_threads(self.options.threads):
            seed_everything(cfg.seed)
            net = self._new_net()
            self.net_ = net
            self._items_t = ItemTensors.of(
                self.item_codes_, self.item_genres_, self.item_text_, self._device
            )
            task = ClickTask(
                net,
                PairTensors.of(*pairs, self._device),
                labels,
                self._items_t,
                cfg.batch_size,
                self._validator(train, valid),
                cfg.list_weight,
            )
            self.training_ = run_training(net, task, self._loop_settings())
            net.eval()
            self.weights_ = flatten_state(net)

    def _fit_cross(
        self, train: Dataset, valid: Dataset | None, inner: Dataset, targets: sp.csr_matrix
    ) -> None:
        """Train the cross-encoder on pairs from the inner retriever's candidates: each
        user's held-back items as clicks, candidates they never touched as non-clicks."""
        cfg = self.config
        self.weights_ = np.zeros(0, dtype=np.float32)
        self._item_texts = self._texts(train.items, train.n_items)
        self.user_recent_ = _recent(train, cfg.cross_history)
        users = np.flatnonzero(np.diff(targets.indptr) > 0)
        retriever = self._fitted(self._new_retriever(), inner, None)
        raw = np.asarray(retriever.score_users(users), dtype=np.float32)
        cands, _ = self._candidates(raw, inner.csr[users], users)
        recent = _recent(inner, cfg.cross_history)[users]
        clicks = targets[users].tocsr()
        if train.explicit and cfg.click_threshold is not None:  # lower ratings: no click
            clicks.data = (clicks.data >= cfg.click_threshold).astype(np.float32)
            clicks.eliminate_zeros()
        rows, items, labels = cross_training_pairs(
            cands, clicks, train.csr[users], cfg.cross_pairs, cfg.seed
        )
        readable, pairs = self._readable_pairs(rows, items, recent)
        if not labels[readable].any():
            raise DataError(
                "rerank: no held-back item the cross-encoder could learn from (a user "
                "history and the item both need text); raise `candidates`, `cross_pairs` "
                "or `ranker_holdout`, or check the item table's text columns"
            )
        self.retriever_ = self._fitted(self._new_retriever(), train, valid)
        self.signals_ = []
        seed_everything(cfg.seed)
        self.cross_ = XR.CrossRanker.from_minilm(cfg.cross_max_tokens, str(self._device))
        self.cross_.fit(
            pairs,
            labels[readable],
            epochs=cfg.cross_epochs,
            batch_size=cfg.cross_batch_size,
            lr=cfg.cross_lr,
            seed=cfg.seed,
            threads=self.options.threads,
        )

    def _fit_llm(self, train: Dataset, valid: Dataset | None) -> None:
        """Nothing to learn: the retriever is fit, the titles and recent items kept."""
        self.weights_ = np.zeros(0, dtype=np.float32)
        self._item_texts = self._titles(train.items, train.n_items)
        self.user_recent_ = _recent(train, self.config.llm_history)
        self.retriever_ = self._fitted(self._new_retriever(), train, valid)
        self.signals_ = []
        self.llm_ = self._new_llm()

    def _new_llm(self) -> LR.LlmRanker:
        from lmrec.encoders.small_lm import SmallLM

        cfg = self.config
        return LR.LlmRanker(
            SmallLM.shared(str(self._device)),
            batch_size=cfg.llm_batch_size,
            threads=self.options.threads,
            score=cfg.llm_score,
        )

    def _titles(self, items: Any, n_items: int) -> list[str]:
        """Each item's title ('' = none) for the llm ranker: the `title` column, else the
        item text template's text."""
        if items is None or "title" not in items.columns:
            return self._texts(items, n_items)
        titles = [
            "" if not isinstance(t, str) else " ".join(t.split())
            for t in items["title"].tolist()[:n_items]
        ]
        return titles + [""] * (n_items - len(titles))

    def _texts(self, items: Any, n_items: int) -> list[str]:
        """Each item's text by the item template ('' = none), for the cross-encoder."""
        if items is None or len(items.columns) <= 1:
            return [""] * n_items
        from lmrec.models.neural.item_repr import item_texts

        texts = [t.strip() for t in item_texts(items, self.config.text)][:n_items]
        return texts + [""] * (n_items - len(texts))

    def _readable_pairs(
        self, rows: np.ndarray, items: np.ndarray, recent: np.ndarray
    ) -> tuple[np.ndarray, list[tuple[str, str]]]:
        """Which pairs (recent[rows[p]], items[p]) have text on both sides, and those as
        (query, item text) for the cross-encoder."""
        query = XR.queries(recent, self._item_texts)
        readable = np.array(
            [
                bool(query[r]) and bool(self._item_texts[i])
                for r, i in zip(rows, items, strict=True)
            ],
            dtype=bool,
        )
        pairs = [
            (query[r], self._item_texts[i])
            for r, i in zip(rows[readable], items[readable], strict=True)
        ]
        return readable, pairs

    def _history_len(self) -> int:
        cfg = self.config
        return cfg.llm_history if cfg.ranker == "llm" else cfg.cross_history

    def _llm_scores(self, rows: np.ndarray, items: np.ndarray, recent: np.ndarray) -> np.ndarray:
        """The llm ranker's scores of pairs (recent[rows[p]], items[p]); NaN where the
        user has no recent titled item or the item has no title."""
        assert self.llm_ is not None
        out = np.full(len(rows), np.nan, dtype=np.float32)
        texts = self._item_texts
        titled = np.array([bool(texts[i]) for i in items], dtype=bool)
        for r in np.unique(rows):
            history = [texts[i - 1] for i in recent[r] if i > 0 and texts[i - 1]]
            where = np.flatnonzero((rows == r) & titled)
            if history and len(where):
                out[where] = self.llm_.scores(history, [texts[i] for i in items[where]])
        return out

    def _cross_logits(self, rows: np.ndarray, items: np.ndarray, recent: np.ndarray) -> np.ndarray:
        """Cross-encoder logits of pairs (recent[rows[p]], items[p]); NaN where the user
        has no recent item with text or the item has none."""
        assert self.cross_ is not None
        out = np.full(len(rows), np.nan, dtype=np.float32)
        readable, pairs = self._readable_pairs(rows, items, recent)
        # one call per user: a user's scores never depend on who else is scored with
        # them (padding is per batch), so one user alone ranks as in a batch of many
        where = np.flatnonzero(readable)
        bounds = np.flatnonzero(np.diff(rows[where])) + 1
        for part in np.split(np.arange(len(where)), bounds):
            if len(part):
                out[where[part]] = self.cross_.logits(
                    [pairs[p] for p in part], self.config.cross_batch_size, self.options.threads
                )
        return out

    def _new_retriever(self) -> Recommender[Any]:
        from lmrec.models.registry import create_model

        return create_model(self.config.retriever, self.config.retriever_config)

    def _new_signal(self, name: str) -> Recommender[Any]:
        from lmrec.models.registry import create_model

        return create_model(name, self.config.signal_configs.get(name, {}))

    def _signal_scores(
        self, models: Sequence[Recommender[Any]], users: np.ndarray | None, rows: sp.csr_matrix
    ) -> list[np.ndarray]:
        """Each signal model's scores of known users (or of new history rows)."""
        out = []
        for model in models:
            if users is not None:
                out.append(np.asarray(model.score_users(users), dtype=np.float32))
            else:
                assert isinstance(model, FoldsIn)
                out.append(np.asarray(model.score_histories(rows), dtype=np.float32))
        return out

    def _fitted(
        self, model: Recommender[Any], train: Dataset, valid: Dataset | None
    ) -> Recommender[Any]:
        """`model` fit with its own run options where it has them, the rerank's elsewhere."""
        return model.fit(train, valid, model.options.under(self.options))

    def _training_pairs(
        self, train: Dataset, inner: Dataset, targets: sp.csr_matrix
    ) -> tuple[tuple[F.PairBlock, F.UserSide], np.ndarray]:
        """Candidates of a retriever fit on `inner` for users with held-back items,
        labelled by those items (see the module doc)."""
        users = np.flatnonzero(np.diff(targets.indptr) > 0)
        retriever = self._fitted(self._new_retriever(), inner, None)
        signals = [self._fitted(self._new_signal(n), inner, None) for n in self.config.signals]
        seen = inner.csr[users]
        raw = np.asarray(retriever.score_users(users), dtype=np.float32)
        cands, cand_scores = self._candidates(raw, seen, users)
        assert self.user_codes_ is not None
        side = self._user_side(seen, self.user_codes_[users])
        # popularity as the inner retriever saw it: counting the held-back interactions
        # would tell the ranker which items were taken
        extra = self._signal_scores(signals, users, seen)
        block = self._block(cands, cand_scores, side, extra, F.item_popularity(inner.csr))
        rows_of = users[block.user_rows]
        taken = np.asarray(targets[rows_of, block.items]).ravel()
        heads = [self.config.click_threshold, *self.config.extra_heads]
        labels = np.stack(
            [
                (taken > 0) & (taken >= t if train.explicit and t is not None else True)
                for t in heads
            ],
            axis=1,
        )
        return (block, side), labels.astype(np.float32)

    def _new_net(self) -> ClickNet:
        assert self.vocab_ is not None
        v = self.vocab_.tolist()
        n_user = len(F.USER_COLUMNS)
        vocab = Vocab(tuple(v[:n_user]), *v[n_user : n_user + 5])
        cfg = self.config
        n_tasks = 1 + len(cfg.extra_heads)
        net = ClickNet(vocab, RANKERS[cfg.ranker], cfg.dim, cfg.hidden, cfg.dropout, n_tasks)
        return net.to(self._device)

    def _loop_settings(self) -> LoopSettings:
        cfg, run = self.config, self.options
        return LoopSettings(
            epochs=cfg.epochs,
            lr=cfg.lr,
            weight_decay=cfg.weight_decay,
            patience=cfg.patience,
            ema_decay=cfg.ema_decay,
            seed=cfg.seed,
            device=self._device,
            progress=run.progress,
            checkpoint_dir=run.checkpoint_dir,
            resume=run.resume,
            report=run.report,
            on_epoch=run.on_epoch,
        )

    def _validator(self, train: Dataset, valid: Dataset | None) -> Any:
        if valid is None or valid.n_interactions == 0:
            return lambda: None
        rng = np.random.default_rng([self.config.seed, 1])
        users = users_with_targets(valid.binary_csr, self.config.valid_users, rng)
        return lambda: ndcg_at_k(self.score_users, users, train.binary_csr, valid.binary_csr)

    def _item_text(self, train: Dataset) -> np.ndarray:
        """Centred unit text embeddings (zero rows: no text); one zero column without."""
        n = train.n_items
        if self.config.ranker in ("cross-encoder", "llm"):
            return np.zeros((n, 1), dtype=np.float32)  # it reads the text itself
        if not self.config.use_text or train.items is None or len(train.items.columns) <= 1:
            return np.zeros((n, 1), dtype=np.float32)
        try:
            from lmrec.encoders import EmbeddingCache, encode_cached, get_encoder
            from lmrec.encoders.config import with_backend
        except ImportError as exc:
            raise ConfigError(
                f"rerank reads item text through the text extra ({exc.name} is missing): "
                "pip install 'lmrec[text]', or set use_text=false"
            ) from None
        from lmrec.models.neural.item_repr import item_texts

        texts = item_texts(train.items, self.config.text)
        encoder = get_encoder(with_backend(self.config.text.encoder, self.options.text_backend))
        raw = np.zeros((n, encoder.dim), dtype=np.float32)
        present = np.flatnonzero([bool(t) for t in texts])
        if present.size:
            cache = EmbeddingCache(self.config.text.encoder.get("cache_dir"))
            chosen = [texts[i] for i in present]
            raw[present] = encode_cached(encoder, chosen, cache if self.config.use_cache else None)
            raw[present] = normalize_rows(raw[present] - raw[present].mean(axis=0))
        return raw

    # ---- scoring -------------------------------------------------------------------------
    def _candidates(
        self, raw: np.ndarray, seen: sp.csr_matrix, users: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The retriever's top unseen items (n, c) (-1 = none) and their scores."""
        scores = np.where(np.isnan(raw), -np.inf, raw).astype(np.float32)
        mask_rows(scores, seen)
        rows = users if users is not None else np.full(len(raw), NO_USER)
        idx, top = top_k(scores, self.config.candidates, priority=tie_priority(rows, raw.shape[1]))
        return np.where(np.isfinite(top), idx, -1), top

    def _user_side(self, seen: sp.csr_matrix, codes: np.ndarray) -> F.UserSide:
        assert self.item_text_ is not None and self.max_activity_ is not None
        return F.user_side(seen, codes, self.item_text_, float(self.max_activity_))

    def _block(
        self,
        cands: np.ndarray,
        cand_scores: np.ndarray,
        side: F.UserSide,
        signals: Sequence[np.ndarray],
        item_pop: np.ndarray | None = None,
    ) -> F.PairBlock:
        assert self.item_text_ is not None and self.item_pop_ is not None
        pop = self.item_pop_ if item_pop is None else item_pop
        return F.pair_block(
            cands, cand_scores, side, self.item_text_, pop, self.config.candidates, signals
        )

    def _logits(self, block: F.PairBlock, side: F.UserSide) -> np.ndarray:
        assert self.net_ is not None and self._items_t is not None
        with torch_threads(self.options.threads):
            return predict_logits(
                self.net_, PairTensors.of(block, side, self._device), self._items_t
            )

    def _ranking_score(self, logits: np.ndarray) -> np.ndarray:
        """(pairs,) the score a list is ordered by, from the heads' logits (pairs, heads)."""
        weights = self.config.head_weights
        if weights is None:
            return logits[:, 0]
        return (logits @ np.asarray(weights, dtype=np.float32)).astype(np.float32)

    def _rerank(
        self, raw: np.ndarray, seen: sp.csr_matrix, users: np.ndarray | None, codes: np.ndarray
    ) -> np.ndarray:
        """Full score rows: candidates by click logit, the rest below in retriever order."""
        raw = np.asarray(raw, dtype=np.float32)
        cands, cand_scores = self._candidates(raw, seen, users)
        if self.cross_ is not None or self.llm_ is not None:
            return self._cross_rerank(raw, cands, self._recent_of(seen, users), cand_scores)
        side = self._user_side(seen, codes)
        block = self._block(
            cands, cand_scores, side, self._signal_scores(self.signals_, users, seen)
        )
        logits = self._ranking_score(self._logits(block, side))
        out = _below(raw, block.user_rows, logits)
        out[block.user_rows, block.items] = logits
        return out

    def _cross_rerank(
        self, raw: np.ndarray, cands: np.ndarray, recent: np.ndarray, cand_scores: np.ndarray
    ) -> np.ndarray:
        rows, cols = np.nonzero(cands >= 0)
        grid = np.full(cands.shape, np.nan, dtype=np.float32)
        text_logits = self._llm_scores if self.llm_ is not None else self._cross_logits
        grid[rows, cols] = text_logits(rows, cands[rows, cols], recent)
        if self.llm_ is not None and self.config.llm_mix < 1.0:
            mix = self.config.llm_mix
            retriever = LR.row_z(np.where(np.isfinite(grid), cand_scores, np.nan))
            grid = (mix * LR.row_z(grid) + (1.0 - mix) * retriever).astype(np.float32)
        logits = XR.fill_in_retriever_order(grid)[rows, cols]
        out = _below(raw, rows, logits)
        out[rows, cands[rows, cols]] = logits
        return out

    def _recent_of(self, seen: sp.csr_matrix, users: np.ndarray | None) -> np.ndarray:
        """Recent items (index + 1) of known users, or of new history rows (their last
        `cross_history` items as given, without times)."""
        if users is not None:
            assert self.user_recent_ is not None
            return self.user_recent_[users]
        n = self._history_len()
        out = np.zeros((seen.shape[0], n), dtype=np.int64)
        for r in range(seen.shape[0]):
            items = seen.indices[seen.indptr[r] : seen.indptr[r + 1]][::-1][:n]
            out[r, : len(items)] = items + 1
        return out

    def score_users(self, users: np.ndarray) -> np.ndarray:
        self._require_fitted()
        assert self.retriever_ is not None and self.history_ is not None
        assert self.user_codes_ is not None
        users = np.asarray(users, dtype=np.int64)
        out = np.empty((len(users), self.n_items), dtype=np.float32)
        for start in range(0, len(users), _USERS_PER_PASS):
            part = users[start : start + _USERS_PER_PASS]
            raw = self.retriever_.score_users(part)
            chunk = slice(start, start + len(part))
            out[chunk] = self._rerank(raw, self.history_[part], part, self.user_codes_[part])
        return out

    def score_histories(self, histories: sp.csr_matrix) -> np.ndarray:
        """New histories: the retriever folds them in; no user attributes are known."""
        self._require_fitted()
        assert isinstance(self.retriever_, FoldsIn)
        rows = sp.csr_matrix(histories)
        raw = self.retriever_.score_histories(rows)
        codes = np.zeros((rows.shape[0], len(F.USER_COLUMNS)), dtype=np.int64)
        return self._rerank(raw, rows, None, codes)

    # ---- click probabilities (click metrics) ------------------------------------------------
    def candidate_lists(self, users: np.ndarray, seen: sp.csr_matrix) -> np.ndarray:
        """(len(users), candidates) the retriever's candidates with `seen` removed, -1 = none."""
        assert self.retriever_ is not None
        raw = np.asarray(self.retriever_.score_users(np.asarray(users)), dtype=np.float32)
        return self._candidates(raw, seen, np.asarray(users))[0]

    def click_probabilities(
        self, users: np.ndarray, items: np.ndarray, seen: sp.csr_matrix
    ) -> np.ndarray:
        """(n, m) chance that each user clicks each item of `items` (n, m; -1 = none,
        NaN out). An item outside the user's candidates is read at the last candidate rank."""
        self._require_fitted()
        assert self.retriever_ is not None and self.user_codes_ is not None
        assert self.item_text_ is not None and self.item_pop_ is not None
        users = np.asarray(users, dtype=np.int64)
        if self.cross_ is not None:
            rows, cols = np.nonzero(items >= 0)
            logit = self._cross_logits(rows, items[rows, cols], self._recent_of(seen, users))
            probs = np.full(items.shape, np.nan, dtype=np.float64)
            # a pair it cannot read gets no opinion: even odds
            probs[rows, cols] = 1.0 / (1.0 + np.exp(-np.nan_to_num(logit.astype(np.float64))))
            return probs
        raw = np.asarray(self.retriever_.score_users(users), dtype=np.float32)
        cands, cand_scores = self._candidates(raw, seen, users)
        side = self._user_side(seen, self.user_codes_[users])
        # rank of each asked item among the candidates (last rank when outside them)
        c = self.config.candidates
        present = items >= 0
        item_rank = np.full(items.shape, c - 1, dtype=np.int64)
        for r in range(len(users)):
            where = {int(i): j for j, i in enumerate(cands[r]) if i >= 0}
            for j in np.flatnonzero(present[r]):
                item_rank[r, j] = where.get(int(items[r, j]), c - 1)
        rows, cols = np.nonzero(present)
        asked = items[rows, cols]
        block = F.pair_block_at(
            cands,
            cand_scores,
            rows,
            asked,
            raw[rows, asked],
            item_rank[rows, cols],
            side,
            self.item_text_,
            self.item_pop_,
            c,
            self._signal_scores(self.signals_, users, seen),
        )
        out = np.full(items.shape, np.nan, dtype=np.float64)
        head = self._logits(block, side)[:, self.config.click_head].astype(np.float64)
        out[rows, cols] = 1.0 / (1.0 + np.exp(-head))
        return out

    # ---- what the ranker could not read (explanations) ---------------------------------------
    def ranking_notes(self, user_id: Any, item_ids: Sequence[str]) -> list[list[str]]:
        """Per item, what the ranker fell back on for this user (empty: nothing missing)."""
        self._require_fitted()
        assert self.user_map is not None and self.item_map is not None
        assert self.user_codes_ is not None and self.item_text_ is not None
        known = user_id is not None and user_id in self.user_map
        codes = (
            self.user_codes_[self.user_map.index_of(user_id)]
            if known
            else np.zeros(len(F.USER_COLUMNS), dtype=np.int64)
        )
        idx = self.item_map.lookup(list(item_ids))
        if self.cross_ is not None or self.llm_ is not None:
            assert self.user_recent_ is not None
            recent = (
                self.user_recent_[self.user_map.index_of(user_id)]
                if known
                else np.zeros(0, dtype=np.int64)
            )
            has_history = any(i > 0 and self._item_texts[i - 1] for i in recent)
            notes = LR.fallback_notes if self.llm_ is not None else XR.fallback_notes
            return [notes(has_history, bool(self._item_texts[i])) for i in idx]
        has_text = np.any(self.item_text_[idx] != 0, axis=1)
        return [F.fallback_notes(known, codes, bool(t)) for t in has_text]

    # ---- abilities follow the retriever ------------------------------------------------------
    def declined_capabilities(self) -> frozenset[type]:
        # the llm ranker's log-likelihoods order a list but are no click probabilities
        declined: set[type] = {PredictsClicks} if self.config.ranker == "llm" else set()
        models = [self.retriever_, *self.signals_] if self.retriever_ is not None else []
        if not all(isinstance(m, FoldsIn) for m in models):
            declined.add(FoldsIn)
        return frozenset(declined)

    def _cannot_fold_in(self) -> str:
        models = [self.retriever_, *self.signals_] if self.retriever_ is not None else []
        lacking = [m.name for m in models if not isinstance(m, FoldsIn)]
        return (
            f"rerank's model(s) {', '.join(lacking)} cannot score a new history without "
            "refitting; use a retriever and signals with fold-in (e.g. ease, itemknn, als)"
        )

    @property
    def history_at_test_time(self) -> bool:
        return self.retriever_ is not None and isinstance(self.retriever_, ScoresSequences)

    # ---- persistence ---------------------------------------------------------------------
    def _save_extra(self, path: Path) -> None:
        assert self.retriever_ is not None
        self.retriever_.save(path / _RETRIEVER_DIR)
        for i, model in enumerate(self.signals_):
            model.save(path / _SIGNALS_DIR / f"{i}-{model.name}")
        if self.cross_ is not None:
            self.cross_.save(path / _CROSS_DIR)

    def _load_extra(self, path: Path) -> None:
        from lmrec.models.artifacts import load_model

        sub = path / _RETRIEVER_DIR
        if not sub.exists():
            raise ArtifactError(f"{path}: the rerank model's retriever is missing ({sub})")
        self.retriever_ = load_model(sub, self.options)
        self.signals_ = []
        for i, name in enumerate(self.config.signals):
            sub = path / _SIGNALS_DIR / f"{i}-{name}"
            if not sub.exists():
                raise ArtifactError(
                    f"{path}: the rerank model's signal '{name}' is missing ({sub})"
                )
            self.signals_.append(load_model(sub, self.options))
        if self.config.ranker == "cross-encoder":
            sub = path / _CROSS_DIR
            if not sub.exists():
                raise ArtifactError(f"{path}: the rerank model's cross-encoder is missing ({sub})")
            self._device = resolve_device(self.options.device)
            self.cross_ = XR.CrossRanker.load(sub, str(self._device))
        if self.config.ranker == "llm":  # the weights come from the llm extra, not the artifact
            self._device = resolve_device(self.options.device)
            self.llm_ = self._new_llm()

    def _after_load(self) -> None:
        assert self.weights_ is not None
        self._device = resolve_device(self.options.device)
        if self.config.ranker in ("cross-encoder", "llm"):
            n = len(self.item_map) if self.item_map is not None else 0
            texts = self._titles if self.config.ranker == "llm" else self._texts
            self._item_texts = texts(self.items, n)
            return
        net = self._new_net().to("cpu")
        load_flat_state(net, self.weights_)
        self.net_ = net.to(self._device).eval()
        assert self.item_codes_ is not None
        assert self.item_genres_ is not None and self.item_text_ is not None
        self._items_t = ItemTensors.of(
            self.item_codes_, self.item_genres_, self.item_text_, self._device
        )

    def __copy__(self) -> RerankRecommender:
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone.retriever_ = copy.copy(self.retriever_)
        return clone


def _below(raw: np.ndarray, cand_rows: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Every item's retriever score mapped, in order, into [low - 2, low - 1] where low is
    the row's lowest candidate logit; NaN (cannot score) stays NaN."""
    n = raw.shape[0]
    low = np.zeros(n, dtype=np.float64)
    if len(logits):
        low_c = np.full(n, np.inf)
        np.minimum.at(low_c, cand_rows, logits.astype(np.float64))
        low = np.where(np.isfinite(low_c), low_c, 0.0)
    s = np.where(np.isfinite(raw), raw, np.nan).astype(np.float64)
    with np.errstate(all="ignore"):
        smin = np.nanmin(np.where(np.isnan(s), np.inf, s), axis=1, keepdims=True)
        smax = np.nanmax(np.where(np.isnan(s), -np.inf, s), axis=1, keepdims=True)
    span = np.where(np.isfinite(smax - smin) & (smax > smin), smax - smin, 1.0)
    share = np.where(np.isfinite(smin), (s - smin) / span, 0.0)
    out = (low[:, None] - 2.0 + share).astype(np.float32)
    out[np.isnan(raw)] = np.nan
    return out


def hold_back(
    train: Dataset, share: float, how: Literal["random", "latest"], seed: int
) -> tuple[Dataset, sp.csr_matrix]:
    """(train without `share` of each user's interactions, those as a matrix of values):
    the latest ones, or a seeded random choice. Users with one interaction keep it."""
    if how == "latest":
        key = train.timestamps
    else:
        key = np.random.default_rng([seed, 2]).random(train.n_interactions)
    order = np.lexsort((np.arange(train.n_interactions), key, train.users_idx))
    users = train.users_idx[order]
    counts = np.bincount(users, minlength=train.n_users)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    position = np.arange(len(order)) - starts[users]
    n_held = np.where(counts >= 2, np.maximum(1, np.floor(counts * share)), 0).astype(np.int64)
    held_sorted = position >= counts[users] - n_held[users]
    held = np.zeros(train.n_interactions, dtype=bool)
    held[order] = held_sorted
    kept = train.subset(~held, name=f"{train.name}-ranker-inner")
    part = train.subset(held)
    targets = sp.csr_matrix(
        (part.values, (part.users_idx, part.items_idx)),
        shape=(train.n_users, train.n_items),
        dtype=np.float32,
    )
    targets.sum_duplicates()
    return kept, targets


def _recent(data: Dataset, n: int) -> np.ndarray:
    """(n_users, n) each user's latest items in `data` (index + 1, 0 = none)."""
    order = data.timestamps  # ties (0 = unknown): later rows count as more recent
    return XR.recent_items(
        data.users_idx, data.items_idx, np.asarray(order, dtype=np.float64), data.n_users, n
    )


def cross_training_pairs(
    cands: np.ndarray, held: sp.csr_matrix, touched: sp.csr_matrix, n_pairs: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, items, labels) up to `n_pairs` pairs, about half clicks: the rows' held-back
    items, and candidates the user never touched in training as non-clicks."""
    rng = np.random.default_rng([seed, 3])
    held = sp.csr_matrix(held)
    pos_rows = np.repeat(np.arange(held.shape[0]), np.diff(held.indptr))
    pos_items = held.indices.astype(np.int64)
    rows, cols = np.nonzero(cands >= 0)
    items = cands[rows, cols]
    untouched = np.asarray(sp.csr_matrix(touched)[rows, items]).ravel() == 0
    neg_rows, neg_items = rows[untouched], items[untouched]
    n_pos = min(len(pos_rows), n_pairs // 2)
    n_neg = min(len(neg_rows), n_pairs - n_pos)
    p = rng.choice(len(pos_rows), n_pos, replace=False)
    q = rng.choice(len(neg_rows), n_neg, replace=False)
    out_rows = np.concatenate([pos_rows[p], neg_rows[q]])
    out_items = np.concatenate([pos_items[p], neg_items[q]])
    labels = np.concatenate([np.ones(n_pos), np.zeros(n_neg)]).astype(np.float32)
    return out_rows, out_items, labels
