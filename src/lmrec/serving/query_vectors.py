"""Query vectors for text search: the costly part of a search (a transformer pass over
the query), made cheaper three ways.

- A small LRU cache: the same words typed again (popular searches) cost nothing.
- Batching: queries that arrive while one encoding runs are encoded together in the
  next pass, without waiting for more to come (no added delay when the server is idle).
  One pass over 8 short queries costs far less than 8 passes.
- The encoder backend (`search_backend`): the same weights run on ONNX Runtime, int8,
  are about three times faster on a CPU than torch (embeddings agree at cosine ~0.997).
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from lmrec.models.base import Recommender
from lmrec.search import encode_queries
from lmrec.serving.live import LiveModel


@dataclass
class _Slot:
    text: str
    ready: threading.Event = field(default_factory=threading.Event)
    vector: np.ndarray | None = None
    error: BaseException | None = None
    #: set when this waiting query is handed the next encoding pass
    leads: bool = False


class _Batcher:
    """One encoding pass at a time per model; queries arriving meanwhile wait and go
    together in the next pass, run by the first of them (the one that ran a pass returns
    with its own answer and hands the queue on)."""

    def __init__(self, encode: Callable[[list[str]], np.ndarray]) -> None:
        self.encode = encode
        self.lock = threading.Lock()
        self.queue: list[_Slot] = []
        self.busy = False
        #: queries per pass, for tests and the benchmark
        self.passes: list[int] = []

    def vector(self, text: str) -> np.ndarray:
        slot = _Slot(text)
        with self.lock:
            self.queue.append(slot)
            lead = not self.busy
            self.busy = True
        if not lead:
            slot.ready.wait()
            if not slot.leads:
                return _result(slot)
        self._run_pass()
        return _result(slot)

    def _run_pass(self) -> None:
        with self.lock:
            batch, self.queue = self.queue, []
        try:
            vectors = self.encode([s.text for s in batch])
            for slot, vec in zip(batch, vectors, strict=True):
                slot.vector = vec
        except BaseException as exc:  # every waiting request answers with the error
            for slot in batch:
                slot.error = exc
        self.passes.append(len(batch))
        with self.lock:
            if self.queue:
                self.queue[0].leads = True
                self.queue[0].ready.set()
            else:
                self.busy = False
        for slot in batch:
            slot.ready.set()


def _result(slot: _Slot) -> np.ndarray:
    if slot.error is not None:
        raise slot.error
    assert slot.vector is not None
    return slot.vector


class QueryVectors:
    """Query vectors per live model version, cached, batched, on `backend`."""

    def __init__(self, backend: str = "model", cache_size: int = 1024) -> None:
        self.backend = backend
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str, str], np.ndarray] = OrderedDict()
        self._batchers: dict[tuple[str, str], _Batcher] = {}
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def vector(self, live: LiveModel, text: str) -> np.ndarray:
        """The unit-length query vector of `text` in `live`'s item text space."""
        key = (live.name, live.version, text)
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                self.hits += 1
                return found
            self.misses += 1
        vec = self._batcher(live).vector(text)
        if self.cache_size:
            with self._lock:
                self._cache[key] = vec
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return vec

    def batcher_of(self, live: LiveModel) -> _Batcher:
        return self._batcher(live)

    def _batcher(self, live: LiveModel) -> _Batcher:
        key = (live.name, live.version)
        with self._lock:
            batcher = self._batchers.get(key)
            if batcher is None or getattr(batcher, "model_id", None) != id(live.model):
                model = _on_backend(live.model, self.backend)
                batcher = _Batcher(lambda texts: encode_queries(model, texts))
                batcher.model_id = id(live.model)  # type: ignore[attr-defined]
                # versions no longer live are dropped with their batchers
                self._batchers = {k: b for k, b in self._batchers.items() if k[0] != live.name}
                self._batchers[key] = batcher
            return batcher


def _on_backend(model: Recommender, backend: str) -> Recommender:
    """The model encoding queries on `backend` ("model": as it was trained). A shallow
    copy with other run options: the item vectors are shared, not copied."""
    if backend == "model" or model.options.text_backend == backend:
        return model
    clone = copy.copy(model)
    clone.options = model.options.updated(text_backend=backend)
    return clone
