"""Models the service answers with, and how one version replaces another.

A `LiveModel` is everything derived from one registered version, built completely
before it is published. `ModelHub` holds name -> LiveModel in a dict that is replaced,
never mutated: a request takes its LiveModel once and finishes on it, even if a promotion
publishes another version meanwhile.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sqlalchemy.exc import SQLAlchemyError

from lmrec.core.filters import ItemFilter
from lmrec.core.rerank import Reranker
from lmrec.errors import ArtifactError, ConflictError, LmrecError, UnknownIdError
from lmrec.models.artifacts import load_model, read_meta
from lmrec.models.base import Recommender
from lmrec.models.capabilities import (
    HasItemVectors,
    InnerProduct,
    ItemSimilarity,
    SupportsAddItems,
    TextSearchable,
)
from lmrec.retrieval import ItemIndex, build_index
from lmrec.serving.filters import attribute_columns
from lmrec.store.default_model import default_stamp, resolve_default
from lmrec.store.registry import ModelRegistry

log = logging.getLogger("lmrec.serving")

#: seconds before the first retry of a live version that failed to load; each further
#: failure doubles the wait up to RETRY_MAX_SECONDS (files repaired in place are noticed)
RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 60.0


class ServiceUnavailable(LmrecError):
    """The service cannot answer yet (no model live, search not set up, ...)."""

    status_code = 503


class VersionLoadError(ConflictError):
    """A registered version does not load (corrupt or missing files, wrong sizes, a model
    that cannot score): it is never published, and promoting it is a conflict (409)."""

    def __init__(self, name: str, version: str, reason: str) -> None:
        super().__init__(f"model '{name}' version {version} does not load: {reason}")
        self.reason = reason


@dataclass
class LoadFailure:
    """The registry's live version of a name that did not load here, and when to retry."""

    version: str
    error: str
    attempts: int = 1
    retry_at: float = 0.0  # time.monotonic()

    def __post_init__(self) -> None:
        self.schedule()

    def schedule(self) -> None:
        wait = min(RETRY_FIRST_SECONDS * 2 ** (self.attempts - 1), RETRY_MAX_SECONDS)
        self.retry_at = time.monotonic() + wait

    @property
    def due(self) -> bool:
        return time.monotonic() >= self.retry_at


@dataclass
class LiveModel:
    """One loaded model version with what the service derives from it."""

    name: str
    version: str
    model: Recommender
    #: cold-start scores: distinct users per item in the training history
    popularity: np.ndarray
    #: the model, when its scores are inner products an item index can answer
    inner: InnerProduct | None
    index: ItemIndex | None
    meta: dict[str, Any]
    loaded_at: float = field(default_factory=time.time)
    _cooccurrence: sp.csc_matrix | None = None
    _search_index: ItemIndex | None = None
    _unit_vectors: ItemIndex | None = None
    #: where index graphs of this (unchanged) version may be cached; None once changed
    cache_dir: Path | None = None
    ann_threshold: int = 100_000
    #: re-rankers' item data, built on first use (lmrec.serving.reranking)
    rerankers: dict[tuple[str, int, int], Reranker] = field(default_factory=dict)

    @property
    def kind(self) -> str:
        return self.model.name

    @property
    def n_items(self) -> int:
        return self.model.n_items

    def knows_item(self, item_id: str) -> bool:
        assert self.model.item_map is not None
        return item_id in self.model.item_map

    @property
    def can_add_items(self) -> bool:
        return isinstance(self.model, SupportsAddItems)

    @property
    def filters(self) -> ItemFilter:
        return self.model.item_filter()

    @cached_property
    def attribute_columns(self) -> list[str]:
        return attribute_columns(self.model.items)

    def search_index(self) -> ItemIndex:
        """Index over the model's unit-length item vectors (for text search)."""
        if self._search_index is None:
            if not isinstance(self.model, TextSearchable):
                raise ServiceUnavailable(f"model '{self.name}' has no item vectors to search")
            vecs = self.model.text_vectors()
            cache = self.cache_dir / "index-unit-hnsw.faiss" if self.cache_dir else None
            self._search_index = build_index(
                unit_rows(vecs), ann_threshold=self.ann_threshold, cache_path=cache
            )
        return self._search_index

    def similar_items(self, item_id: str, k: int) -> tuple[list[str], list[float]]:
        """Most similar items by cosine: an exact product over unit item vectors kept
        once (instead of normalising the whole matrix per request), else the model's own
        similarity (co-occurrence, or its override)."""
        model = self.model
        assert model.item_map is not None
        own = isinstance(model, ItemSimilarity)
        vecs = model.item_vectors() if isinstance(model, HasItemVectors) and not own else None
        if vecs is None or sp.issparse(vecs):
            recs = model.similar_items(item_id, k)
            return recs.item_ids, recs.scores
        if self._unit_vectors is None:
            self._unit_vectors = ItemIndex(unit_rows(vecs))
        i = model.item_map.index_of(item_id)
        query = self._unit_vectors.vectors[i]
        idx, scores = self._unit_vectors.search(query, k, exclude=np.array([i]))
        return model.item_map.to_ids(idx).tolist(), scores.astype(float).tolist()

    def cooccurrence(self) -> sp.csc_matrix:
        """Binary user x item training matrix by column (for co-occurrence similarity)."""
        if self._cooccurrence is None:
            assert self.model.history_ is not None
            x = self.model.history_.tocsc().astype(np.float32)
            x.data = np.ones_like(x.data)
            self._cooccurrence = x
        return self._cooccurrence


def unit_rows(vecs: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero), float32."""
    v = np.asarray(vecs, dtype=np.float32)
    norms = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.where(norms == 0, 1.0, norms)


def build_live(
    name: str,
    version: str,
    model: Recommender,
    meta: dict[str, Any],
    ann_threshold: int,
    cache_dir: Path | None = None,
) -> LiveModel:
    """Derive everything the service needs from a loaded model (done before publishing)."""
    assert model.history_ is not None
    popularity = np.asarray((model.history_ != 0).sum(axis=0)).ravel().astype(np.float32)
    if len(popularity) < model.n_items:  # items added after training have no history yet
        popularity = np.pad(popularity, (0, model.n_items - len(popularity)))
    inner = model if isinstance(model, InnerProduct) else None
    index = None
    if inner is not None:
        cache = cache_dir / "index-hnsw.faiss" if cache_dir is not None else None
        vectors = np.asarray(inner.item_factors(), dtype=np.float32)
        index = build_index(vectors, ann_threshold=ann_threshold, cache_path=cache)
    return LiveModel(
        name=name,
        version=version,
        model=model,
        popularity=popularity,
        inner=inner,
        index=index,
        meta=meta,
        ann_threshold=ann_threshold,
        cache_dir=cache_dir,
    )


class ModelHub:
    """Name -> LiveModel, swapped atomically on promotion or rollback."""

    def __init__(
        self,
        registry: ModelRegistry,
        *,
        ann_threshold: int,
        default: str | None,
        prepare: Callable[[Recommender], tuple[Recommender, bool]] | None = None,
    ):
        self.registry = registry
        #: called on every freshly loaded model before it is published (adds stored items,
        #: forgets forgotten users); returns the model to publish and whether it changed
        self.prepare = prepare
        self.ann_threshold = ann_threshold
        #: this server's own choice of default model (settings); None: the registry's
        self.configured_default = default
        self.default = resolve_default(registry, default)
        self._default_stamp = default_stamp(registry)
        self._live: dict[str, LiveModel] = {}
        self._stamps: dict[str, int] = {}
        self._write = threading.Lock()
        #: held from loading a version to publishing it, and while users are forgotten
        #: (ServiceContext.forget_user): a load never misses a deletion made meanwhile
        self.changes = threading.RLock()
        #: name -> the registry's live version that failed to load here (retried later)
        self.failures: dict[str, LoadFailure] = {}

    @property
    def load_errors(self) -> dict[str, str]:
        """name -> "version V: why it does not load", for live versions not loaded here."""
        failures = self.failures.copy()  # one C-level copy: the poll thread may change it
        return {name: f"version {f.version}: {f.error}" for name, f in sorted(failures.items())}

    def failed_versions(self) -> dict[str, str]:
        """name -> the registry's live version that did not load here."""
        return {name: f.version for name, f in sorted(self.failures.copy().items())}

    # ---- reading (lock-free: one reference read) ------------------------------------------
    def snapshot(self) -> dict[str, LiveModel]:
        return self._live

    def get(self, name: str | None = None) -> LiveModel:
        live = self._live
        if name is None:
            name = self.default.name
            if not live or name is None:
                raise ServiceUnavailable(
                    "no model is live: register and promote one with "
                    "`lmrec models promote NAME VERSION` (or `lmrec train ... --register NAME`)"
                )
            if name not in live:
                error = self.load_errors.get(name)
                raise ServiceUnavailable(
                    f"the default model '{name}' ({self.default.source}) is not live here"
                    + (f" (load error: {error})" if error else "")
                    + "; promote a version of it (`lmrec models promote NAME VERSION`), "
                    "choose another default (`lmrec models default NAME`), or name a model "
                    "in the request"
                )
        try:
            return live[name]
        except KeyError:
            known = ", ".join(sorted(live)) or "none"
            raise UnknownIdError(f"no live model named '{name}' (live: {known})") from None

    # ---- loading and swapping --------------------------------------------------------------
    def load(self, name: str, version: str) -> LiveModel:
        """Load a version and derive what the service needs from it; whatever goes wrong
        (files corrupt, truncated, unreadable, of the wrong sizes, a model that cannot
        score) is a VersionLoadError naming the version and the reason."""
        try:
            path = self.registry.version_path(name, version)
            model = load_model(path)
            changed = False
            if self.prepare is not None:
                model, changed = self.prepare(model)
            # A graph cached beside the version fits its saved vectors only: a model that
            # took stored catalogue items on load gets fresh ones.
            cache_dir = None if changed else path
            live = build_live(name, version, model, read_meta(path), self.ann_threshold, cache_dir)
            _check_scores(live)
        except (UnknownIdError, SQLAlchemyError):
            raise  # an unknown version (404), the event store away (503): not the files
        except LmrecError as exc:
            raise VersionLoadError(name, version, str(exc)) from exc
        except Exception as exc:  # any failure reading files written by another process
            log.error("loading model %s version %s failed", name, version, exc_info=True)
            raise VersionLoadError(name, version, f"{type(exc).__name__}: {exc}") from exc
        return live

    def load_all(self) -> None:
        """Load the live version of every registered name. When it does not load, the
        last version in the name's promotion history that does is served instead (and the
        failure is reported and retried), so one bad artifact never leaves a name dark."""
        self.refresh_default()
        for name in self.registry.names():
            try:
                version = self.registry.live_version(name)
            except LmrecError as exc:  # a state file that cannot be read
                self.failures[name] = LoadFailure("?", str(exc))
                log.error("cannot read the live version of model %s: %s", name, exc)
                continue
            if version is not None and not self._load_and_publish(name, version):
                self._serve_last_good(name, version)

    def refresh_default(self) -> None:
        """Re-read the registry's default choice when its file changed."""
        stamp = default_stamp(self.registry)
        if stamp != self._default_stamp or self.default.name is None:
            self._default_stamp = stamp
            self.default = resolve_default(self.registry, self.configured_default)

    def publish(self, live: LiveModel) -> None:
        self.publish_all([live])

    def publish_all(self, lives: list[LiveModel], settle: bool = True) -> None:
        """Publish several models in one reference swap (one full collection after, or
        with `settle=False` only a freeze of what is alive now)."""
        with self._write:
            new = dict(self._live)
            for live in lives:
                new[live.name] = live
                self._stamps[live.name] = self.registry.state_stamp(live.name)
                failure = self.failures.get(live.name)
                if failure is not None and failure.version == live.version:
                    del self.failures[live.name]
            self._live = new  # the single reference swap requests observe
        if settle:
            settle_heap()
        else:
            gc.freeze()

    def promote(self, name: str, version: str) -> tuple[LiveModel, str | None]:
        with self.changes:
            live = self.load(name, version)  # fully loaded before anything changes
            previous = self.registry.promote(name, version)
            self.publish(live)
            self.failures.pop(name, None)  # the registry now names the version served here
        return live, previous

    def rollback(self, name: str) -> LiveModel:
        with self.changes:
            stack = self.registry.state(name)["stack"]
            live = self.load(name, stack[-2]) if len(stack) >= 2 else None  # load first
            version = self.registry.rollback(name)  # raises when nothing to go back to
            if live is None or live.version != version:  # the registry changed meanwhile
                live = self.load(name, version)
            self.publish(live)
            self.failures.pop(name, None)
        return live

    def refresh(self) -> None:
        """Follow changes made to the registry by other processes (e.g. the CLI)."""
        self.refresh_default()
        names = set(self.registry.names()) | set(self._live) | set(self.failures)
        for name in sorted(names):
            stamp = self.registry.state_stamp(name)
            failure = self.failures.get(name)
            if stamp == self._stamps.get(name) and not (failure is not None and failure.due):
                continue
            self._stamps[name] = stamp
            try:
                version = self.registry.live_version(name) if stamp else None
            except LmrecError as exc:  # a state file that cannot be read: keep what serves
                self.failures[name] = LoadFailure("?", str(exc))
                continue
            current = self._live.get(name)
            if version is None:
                self.failures.pop(name, None)
                if current is not None:
                    self._drop(name)
            elif current is None or current.version != version:
                self._load_and_publish(name, version)
            else:
                self.failures.pop(name, None)  # e.g. rolled back to the version served here

    def sync_state(self) -> dict[str, dict[str, str | None]]:
        """name -> {"served": version loaded here, "registry": the registry's live version}
        for every name either knows (read now, so a stale server shows as out of sync)."""
        live = self._live
        out: dict[str, dict[str, str | None]] = {}
        for name in sorted(set(self.registry.names()) | set(live)):
            try:
                wanted = self.registry.live_version(name)
            except LmrecError:
                wanted = "?"
            served = live[name].version if name in live else None
            if wanted is not None or served is not None:
                out[name] = {"served": served, "registry": wanted}
        return out

    def replace_model(self, live: LiveModel, model: Recommender) -> LiveModel:
        """Publish a rebuilt LiveModel for a model changed in place (new items added)."""
        return self.replace_models([(live, model)])[0]

    def replace_models(
        self, changes: list[tuple[LiveModel, Recommender]], settle: bool = True
    ) -> list[LiveModel]:
        """Rebuilt LiveModels for changed models, all published in one swap."""
        new = [
            build_live(live.name, live.version, model, live.meta, self.ann_threshold)
            for live, model in changes
        ]
        if new:
            self.publish_all(new, settle)
        return new

    def _drop(self, name: str) -> None:
        with self._write:
            new = dict(self._live)
            new.pop(name, None)
            self._live = new

    def _load_and_publish(self, name: str, version: str) -> bool:
        with self.changes:
            try:
                live = self.load(name, version)
            except VersionLoadError as exc:
                self._record_failure(name, version, exc.reason)
                return False
            except UnknownIdError as exc:  # the registry names a version without model.json
                self._record_failure(name, version, str(exc))
                return False
            self.publish(live)
        return True

    def _record_failure(self, name: str, version: str, reason: str) -> None:
        failure = self.failures.get(name)
        if failure is not None and failure.version == version:
            failure.attempts += 1
            failure.error = reason
            failure.schedule()
        else:
            self.failures[name] = LoadFailure(version, reason)
        served = self._live.get(name)
        log.error(
            "cannot load model %s version %s (attempt %d, serving %s): %s",
            name,
            version,
            self.failures[name].attempts,
            f"version {served.version}" if served else "nothing for it",
            reason,
        )

    def _serve_last_good(self, name: str, failed: str) -> None:
        """Publish the most recently promoted version of `name` that loads."""
        stack = self.registry.state(name).get("stack") or []
        for version in dict.fromkeys(reversed(stack)):
            if version == failed:
                continue
            try:
                live = self.load(name, version)
            except (VersionLoadError, UnknownIdError) as exc:
                log.error("cannot load model %s version %s either: %s", name, version, exc)
                continue
            self.publish(live)
            log.warning(
                "serving model %s version %s, the last version that loads; the registry's "
                "live version %s does not load and is retried",
                name,
                version,
                failed,
            )
            return


def _check_scores(live: LiveModel) -> None:
    """Score one known user: a model whose arrays do not fit its id maps fails here, at
    load, instead of at every request."""
    model = live.model
    if not model.n_users:
        return
    scores = np.asarray(model.score_users(np.zeros(1, dtype=np.int64)))
    if scores.shape != (1, model.n_items):
        raise ArtifactError(
            f"scores have shape {scores.shape} for a model of {model.n_items:,} items; "
            "the saved arrays do not fit the id maps: re-register the model"
        )


def items_frame_for(model: Recommender, frame: pd.DataFrame) -> pd.DataFrame:
    """Rows of `frame` (catalogue items from the store) the model does not know yet."""
    assert model.item_map is not None
    if frame.empty:
        return frame
    unknown = model.item_map.lookup(frame["item_id"].astype(str), missing="mark") < 0
    return frame[unknown].reset_index(drop=True)


def settle_heap() -> None:
    """Move what is alive now (models: millions of id strings) out of the cyclic garbage
    collector's sight, so its full passes stay short and do not add tens of milliseconds to
    a request's latency. The objects are still freed by reference counting; unfreezing
    first lets one full pass reclaim cycles left by the model just replaced."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
