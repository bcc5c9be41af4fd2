"""What every request handler shares: settings, store, registry, live models, metrics,
and the background work (served-list log, registry polling)."""

from __future__ import annotations

import copy
import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy.exc import SQLAlchemyError

from lmrec.core.pseudonyms import id_secret, secret_id, user_key
from lmrec.errors import LmrecError, UnknownIdError, UnsupportedError
from lmrec.events.store import EventStore, ServedRow
from lmrec.feedback.exploration import ExplorationPolicy, parse_exploration
from lmrec.models.base import Recommender
from lmrec.models.capabilities import SupportsAddItems
from lmrec.models.forgetting import forget_users
from lmrec.search import supports_text_search
from lmrec.serving.ab_split import parse_ab
from lmrec.serving.bandit_state import BanditCounts
from lmrec.serving.exploration import PendingChances, Propensities
from lmrec.serving.live import LiveModel, ModelHub, ServiceUnavailable, items_frame_for
from lmrec.serving.metrics import ServiceMetrics
from lmrec.serving.query_vectors import QueryVectors
from lmrec.serving.settings import ServeSettings
from lmrec.store.registry import ModelRegistry

log = logging.getLogger("lmrec.serving")


class ServiceContext:
    def __init__(self, settings: ServeSettings, metrics: ServiceMetrics | None = None) -> None:
        self.settings = settings
        given = settings.id_secret.get_secret_value() if settings.id_secret else None
        #: key of the keyed hashes of user ids (served-list owners, forgotten users, logs)
        self.secret = id_secret(settings.home, given)
        self.store = EventStore(settings.db_url)
        self.registry = ModelRegistry(settings.registry_path)
        self.hub = ModelHub(
            self.registry,
            ann_threshold=settings.ann_threshold,
            default=settings.default_model,
            prepare=self._prepare_loaded,
        )
        #: rows of the audit table already applied to the live models
        self._forgotten_applied = 0
        self.metrics = metrics or ServiceMetrics()
        self.metrics.add_state_collector(self.metrics_state)
        self.exploration = parse_exploration(settings.exploration)
        #: looks and clicks of the learning policy (thompson), read from the store
        self.bandit = BanditCounts(self.store, settings.bandit_refresh_seconds)
        self.ab = parse_ab(settings.ab, settings.ab_salt)
        self._pinned: dict[str, LiveModel] = {}
        self._pinned_errors: dict[str, str] = {}
        self._served: list[ServedRow] = []
        self._served_owners: list[tuple[str, str]] = []
        #: Thompson lists whose propensities are estimated when the log is written
        self._served_pending: list[tuple[list[ServedRow], PendingChances]] = []
        self._served_lock = threading.Lock()
        self.query_vectors = QueryVectors(settings.search_backend, settings.query_cache_size)
        self._last_prune = 0.0
        self._items_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ---- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        self._forgotten_applied = self.store.count_forgotten()  # load_all applies them
        self.hub.load_all()
        self._load_pinned_arms()
        self._spawn(self._flush_loop, "lmrec-served-log")
        if self.settings.registry_poll_seconds > 0:
            self._spawn(self._poll_loop, "lmrec-registry-poll")

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=10)
        self.flush_served()
        self.store.close()

    def _spawn(self, target: Any, name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def _flush_loop(self) -> None:
        while not self._stop.wait(1.0):
            try:
                self.flush_served()
            except Exception:
                log.exception("cannot record served recommendations")

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.settings.registry_poll_seconds):
            try:
                self.hub.refresh()
                self.apply_forgotten()
            except Exception:
                log.exception("cannot follow registry changes")

    # ---- models ----------------------------------------------------------------------------
    def cold_start_model(self) -> LiveModel | None:
        """The model answering users the requested one cannot: the configured one, else a
        live content model (it scores any history from item text)."""
        live = self.hub.snapshot()
        name = self.settings.cold_start_model
        if name:
            return live.get(name)
        content = [m for m in live.values() if m.kind == "content"]
        return content[0] if content else None

    def search_model(self, name: str | None) -> LiveModel:
        """The model answering a search: the one named in the request (a model that
        cannot search is the client's mistake, 422), else the configured one or the first
        live model that can (none: the service is not set up for search, 503)."""
        if name is not None:
            live = self.hub.get(name)
            if not supports_text_search(live.model):
                raise UnsupportedError(
                    f"model: '{name}' ({live.kind}) cannot search by text; name a content "
                    "model that embeds text, or leave `model` out to use the search model"
                )
            return live
        chosen = self.settings.search_model
        if chosen:
            live = self.hub.get(chosen)
            if not supports_text_search(live.model):
                raise ServiceUnavailable(
                    f"the configured search model '{chosen}' ({live.kind}) cannot search by "
                    "text; set LMREC_SEARCH_MODEL to a content model"
                )
            return live
        for live in self.hub.snapshot().values():
            if supports_text_search(live.model):
                return live
        raise ServiceUnavailable(
            "no live model can search by text: register and promote a content model "
            "(`lmrec train content ... --register NAME`) to enable search"
        )

    # ---- events and history ----------------------------------------------------------------
    def fresh_history(self, user_id: str | None) -> list[str]:
        if user_id is None:
            return []
        return self.store.user_history(user_id, limit=self.settings.history_limit)

    def require_items(self, live: LiveModel, item_ids: Sequence[str], what: str) -> None:
        """404 for ids neither the model nor the stored catalogue knows."""
        assert live.model.item_map is not None
        if not item_ids:
            return
        unknown = [
            i
            for i, j in zip(item_ids, live.model.item_map.lookup(item_ids, "mark"), strict=True)
            if j < 0
        ]
        if unknown:
            stored = self.store.known_items(unknown)
            missing = [i for i in unknown if i not in stored]
            if missing:
                raise UnknownIdError(f"unknown item id {missing[0]!r} in {what}")

    def exploration_for(self, model: str) -> ExplorationPolicy:
        """The policy drawing lists for the live model named `model`."""
        return self.exploration.get(model, self.exploration[""])

    def ab_arm(self, user_id: str | None, model: str | None) -> tuple[str, LiveModel] | None:
        """The A/B arm answering a request and its model: only requests for a user that
        name no model take part (a history-only request has no stable unit to split by)."""
        if self.ab is None or model is not None or user_id is None:
            return None
        arm = self.ab.arm_for(user_id)
        live = self._pinned.get(arm) or self.hub.snapshot().get(arm)
        if live is None:
            why = self._pinned_errors.get(arm) or (
                "not live: promote a version of it (`lmrec models promote NAME VERSION`)"
            )
            raise ServiceUnavailable(
                f"A/B arm '{arm}' (LMREC_AB={self.settings.ab!r}) is {why}, or change LMREC_AB"
            )
        return arm, live

    def _load_pinned_arms(self) -> None:
        """Arms NAME@VERSION serve that version whatever is live (two versions of one
        model side by side); loaded once at start, they do not follow promotions."""
        for arm in self.ab.arms if self.ab is not None else ():
            name, sep, version = arm.partition("@")
            if not sep:
                continue
            try:
                self._pinned[arm] = self.hub.load(name, version)
            except (LmrecError, OSError) as exc:
                log.error("cannot load A/B arm %s: %s", arm, exc)
                self._pinned_errors[arm] = f"not loaded ({exc})"

    def log_served(
        self,
        request_id: str,
        live: LiveModel,
        item_ids: Sequence[str],
        propensities: Propensities | None = None,
        policy: str = "greedy",
        *,
        arm: str | None = None,
        user_id: str | None = None,
    ) -> None:
        """Queue one row per shown item, with the policy that drew the list, the chance
        of the item at its position (1.0 for a greedy list), the A/B arm and the user."""
        if not self.settings.log_served or not item_ids:
            return
        now = time.time()
        pending = propensities if isinstance(propensities, PendingChances) else None
        chances: Sequence[float] = [1.0] * len(item_ids)  # pending: replaced when written
        if isinstance(propensities, list):
            chances = propensities
        rows: list[ServedRow] = [
            (request_id, item, rank, live.name, live.version, now, policy, float(p), arm, user_id)
            for rank, (item, p) in enumerate(zip(item_ids, chances, strict=True), start=1)
        ]
        with self._served_lock:
            if pending is not None:
                self._served_pending.append((rows, pending))
            else:
                self._served.extend(rows)
            if user_id is not None:  # so the list can be deleted with the user
                self._served_owners.append((request_id, user_key(self.secret, user_id)))

    def flush_served(self) -> None:
        with self._served_lock:
            rows, self._served = self._served, []
            owners, self._served_owners = self._served_owners, []
            pending, self._served_pending = self._served_pending, []
        for listed, chances in pending:  # Monte Carlo estimates, off the request path
            estimated = chances.resolve()
            rows.extend((*row[:7], p, *row[8:]) for row, p in zip(listed, estimated, strict=True))
        self.store.log_served(rows, owners)
        self.prune_served()

    def prune_served(self, force: bool = False) -> int:
        """Apply the served log's retention (age, then row count) when it is due: every
        `served_prune_seconds`, so the log cannot outgrow its cap by more than what one
        interval serves."""
        settings = self.settings
        now = time.time()
        if not force and now - self._last_prune < settings.served_prune_seconds:
            return 0
        self._last_prune = now
        days = settings.served_retention_days
        older_than = now - days * 86_400 if days > 0 else None
        keep = settings.served_max_rows or None
        if older_than is None and keep is None:
            return 0
        return self.store.prune_served(older_than, keep)

    # ---- forgetting users ------------------------------------------------------------------
    def forget_user(self, user_id: str) -> dict[str, Any]:
        """Delete the user's events and served lists, record the deletion (keyed hash
        only) and take the user out of every live model, all before answering."""
        with self.hub.changes:  # no version is loaded meanwhile with the user still in it
            self.flush_served()
            key = user_key(self.secret, user_id)
            deleted = self.store.forget_user(user_id, key, secret_id(self.secret))
            models: dict[str, str] = {}
            changes = []
            for name, live in self.hub.snapshot().items():
                model, gone = forget_users(live.model, [user_id])
                if gone:
                    changes.append((live, model))
                models[name] = "forgotten" if gone else "not in model"
            # every live model at once, in one swap; without the full collection a model
            # load ends with (seconds on a large heap): the copies share the big arrays,
            # and what they replace is freed by reference counting
            self.hub.replace_models(changes, settle=False)
            self._forgotten_applied = self.store.count_forgotten()
        return {"user_key": key, **deleted, "models": models}

    def apply_forgotten(self) -> None:
        """Take users forgotten elsewhere (`lmrec users forget`) out of the live models."""
        count = self.store.count_forgotten()
        if count == self._forgotten_applied:
            return
        with self.hub.changes:
            changes = []
            for live in self.hub.snapshot().values():
                model, gone = self._forget_known(live.model)
                if gone:
                    changes.append((live, model))
            self.hub.replace_models(changes)
            self._forgotten_applied = count

    def _forget_known(self, model: Recommender) -> tuple[Recommender, bool]:
        """`model` without the users of the audit table (matched by keyed hash)."""
        if not self.store.count_forgotten():
            return model, False
        keys = self.store.forgotten_keys(secret_id(self.secret))
        assert model.user_map is not None
        ids = [u for u in model.user_map.ids if user_key(self.secret, u) in keys]
        model, gone = forget_users(model, ids)
        return model, bool(gone)

    # ---- catalogue -------------------------------------------------------------------------
    def add_items(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        """Store items; models that can add items by their text take them at once."""
        with self._items_lock:
            created, updated = self.store.upsert_items(rows)
            frame = pd.DataFrame(
                [{"item_id": r["item_id"], "text": r.get("text"), **_flat(r)} for r in rows]
            )
            status: dict[str, str] = {}
            for name, live in self.hub.snapshot().items():
                if not live.can_add_items:
                    status[name] = "pending"
                    continue
                # Change a copy and publish it whole, as a promotion does: requests in
                # flight keep reading the unchanged model. Known ids get their new text.
                model = detached_copy(live.model)
                assert isinstance(model, SupportsAddItems)
                model.add_items(frame)
                self.hub.replace_model(live, model)
                status[name] = "added"
        return {
            "received": len(rows),
            "created": len(created),
            "updated": len(updated),
            "models": status,
        }

    def _prepare_loaded(self, model: Recommender) -> tuple[Recommender, bool]:
        """A freshly loaded version as it is served: with the stored catalogue items and
        without the forgotten users (a restart or an old version never brings them back)."""
        added = self._add_stored_items(model)
        model, forgot = self._forget_known(model)
        return model, added or forgot

    def _add_stored_items(self, model: Recommender) -> bool:
        """Give a freshly loaded model the stored items it was not trained on."""
        if not isinstance(model, SupportsAddItems):
            return False
        new = items_frame_for(model, self.store.items_frame())
        if len(new):
            model.add_items(new)
        return bool(len(new))

    # ---- metrics ---------------------------------------------------------------------------
    def metrics_state(self) -> dict[str, Any]:
        models = [
            {
                "name": live.name,
                "version": live.version,
                "model": live.kind,
                "n_items": live.n_items,
            }
            for live in self.hub.snapshot().values()
        ]
        state: dict[str, Any] = {
            "models": models,
            "sync": self.hub.sync_state(),
            "load_failures": self.hub.failed_versions(),
        }
        try:  # the models' state is shown even while the event store is away
            self.flush_served()
            shown, clicks = self.store.click_through()
            state.update(stored_items=self.store.count_items(), impressions=shown, clicks=clicks)
            if self.ab is not None:
                state["arms"] = self.store.click_through_by_arm()
        except SQLAlchemyError as exc:
            log.error("cannot read the event store for /metrics: %s", exc)
        return state


def detached_copy(model: Recommender) -> Recommender:
    """A copy whose arrays can be changed in place without touching `model` (sparse
    matrices and tables are shared: adding items replaces them rather than editing)."""
    clone = copy.copy(model)
    for attr, value in vars(model).items():
        if isinstance(value, np.ndarray):
            setattr(clone, attr, value.copy())
    return clone


def _flat(row: dict[str, Any]) -> dict[str, Any]:
    attrs = row.get("attributes") or {}
    return {k: "|".join(map(str, v)) if isinstance(v, list) else v for k, v in attrs.items()}
