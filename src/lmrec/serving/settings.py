"""Service settings: LMREC_* environment variables, overridden by `lmrec serve` options,
validated once at start into one clear line per problem."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from lmrec.core.config import describe_errors
from lmrec.core.paths import lmrec_home
from lmrec.errors import ConfigError


class ServeSettings(BaseSettings):
    """Everything the service reads at start. Environment: LMREC_<FIELD> (upper case)."""

    model_config = SettingsConfigDict(env_prefix="LMREC_", extra="forbid", frozen=True)

    home: Path = Field(default_factory=lmrec_home)
    #: model registry directory (default: HOME/registry)
    registry: Path | None = None
    #: event store URL: sqlite:///PATH or postgresql://... (default: HOME/events.db)
    db: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    #: admin keys (`Authorization: Bearer KEY`; comma-separated in the environment): every
    #: endpoint, promotion and rollback included
    api_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: keys that may write (events, catalogue items) and read, but not promote or roll back
    write_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: keys that may only read, personal reads included
    read_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: who may read: "public" (default): reads about items and models are open, reads that
    #: reveal a user's events (anything naming a user_id) need a key; "key": every read
    #: needs a key; "open": every read is open (a private network only)
    read_access: Literal["public", "key", "open"] = "public"
    #: older spelling of read_access=key (kept so existing deployments stay closed)
    read_requires_key: bool = False
    #: /metrics: "open", "key" (any valid key) or "off" (default: like item reads)
    metrics_access: Literal["open", "key", "off"] | None = None
    #: whether /docs, /redoc and /openapi.json are served
    expose_docs: bool = True
    #: largest k a request may ask for (recommendations, similar items, search); above it
    #: the answer is 422. Every served item is a row in the served log.
    max_k: int = Field(default=100, ge=1, le=1000)
    #: served-log rows older than this many days are deleted (0: kept forever)
    served_retention_days: float = Field(default=30.0, ge=0)
    #: the served log keeps at most this many rows, the newest (0: no limit)
    served_max_rows: int = Field(default=1_000_000, ge=0)
    #: seconds between prunings of the served log (0: at every flush)
    served_prune_seconds: float = Field(default=60.0, ge=0)
    #: requests one route may run at once; more answer 429 with Retry-After (0: no limit)
    route_concurrency: int = Field(default=8, ge=0, le=10_000)
    #: text search encodes queries with this backend (the same weights, int8 is ~3x faster
    #: on a CPU); "model": the backend the model was trained with
    search_backend: Literal["model", "torch", "onnx", "onnx-int8"] = "model"
    #: query vectors kept for repeated search texts (0: no cache)
    query_cache_size: int = Field(default=1024, ge=0, le=1_000_000)
    #: origins allowed by CORS; empty (default) turns CORS off
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    #: largest request body accepted (bytes); larger ones get 413
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    #: largest number of events or items in one request
    max_batch: int = Field(default=1000, ge=1, le=100_000)
    #: model answering requests that name none, for this server only (default: the
    #: registry's choice, `lmrec models default NAME`, else the first name registered)
    default_model: str | None = None
    #: live model answering users the requested model cannot (e.g. a content model)
    cold_start_model: str | None = None
    #: live model answering text search (default: the first that can embed text)
    search_model: str | None = None
    #: catalogues at least this large are searched through an HNSW graph
    ann_threshold: int = Field(default=100_000, ge=1)
    #: how many of a user's most recent stored events count as their fresh history
    history_limit: int = Field(default=500, ge=1, le=100_000)
    #: seconds between checks of the registry for promotions made elsewhere (0: never)
    registry_poll_seconds: float = Field(default=2.0, ge=0)
    #: how far ahead of the server's clock an event's timestamp may lie (seconds; clock
    #: skew between clients): a later one is refused, or it would stay the user's latest
    event_max_future_seconds: float = Field(default=86_400.0, ge=0)
    #: record served lists in the store (needed for click-through rates)
    log_served: bool = True
    #: how lists are drawn from a model's ranking: greedy (the top k), epsilon:E,
    #: softmax:T or thompson:L (Thompson sampling that learns from the served lists and
    #: clicks, with a prior worth L looks), for every model or per model
    #: ('softmax:0.5,ease=epsilon:0.1'); the chance of each shown item at its position is
    #: logged with the served list (estimated for thompson)
    exploration: str = "greedy"
    #: candidates (the model's top N) that epsilon, softmax and thompson draw a list from
    exploration_pool: int = Field(default=20, ge=1, le=1000)
    #: how old (seconds) the in-memory copy of thompson's looks and clicks may get before
    #: it is read again from the event store
    bandit_refresh_seconds: float = Field(default=2.0, ge=0)
    #: A/B test: requests naming no model are split between live models by a stable hash
    #: of the user id, 'ease:0.5,als:0.5' (empty: no test); the arm is logged per served row
    ab: str = ""
    #: salt of the A/B hash; a new salt draws a fresh split of users for a new test
    ab_salt: str = "lmrec-ab"
    log_level: str = "info"
    #: how user ids appear in the service's logs: "hash" (a keyed hash, u-<16 hex>) or
    #: "raw" (the ids themselves, only where the logs are as protected as the data)
    log_user_ids: Literal["hash", "raw"] = "hash"
    #: the key of the keyed hashes of user ids (logs, the list of forgotten users); at
    #: least 16 characters. Default: HOME/id-secret, made at first start
    id_secret: SecretStr | None = None
    #: comparison reports the dashboard shows (`lmrec compare` writes one directory per run)
    reports: Path = Path("reports/compare")

    @field_validator("api_keys", "write_keys", "read_keys", "cors_origins", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("exploration")
    @classmethod
    def _known_policies(cls, spec: str) -> str:
        from lmrec.feedback.exploration import parse_exploration

        try:
            parse_exploration(spec)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return spec

    @field_validator("ab")
    @classmethod
    def _valid_split(cls, spec: str) -> str:
        from lmrec.serving.ab_split import parse_ab

        try:
            parse_ab(spec)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return spec

    @field_validator("api_keys", "write_keys", "read_keys")
    @classmethod
    def _long_enough(cls, keys: list[str]) -> list[str]:
        short = [k for k in keys if len(k) < 16]
        if short:
            raise ValueError("every API key needs at least 16 characters")
        return keys

    @model_validator(mode="after")
    def _fill_paths(self) -> ServeSettings:
        if self.read_requires_key:
            object.__setattr__(self, "read_access", "key")
        if self.metrics_access is None:
            like_reads = "key" if self.read_access == "key" else "open"
            object.__setattr__(self, "metrics_access", like_reads)
        home = self.home.expanduser()
        object.__setattr__(self, "home", home)
        if self.registry is None:
            object.__setattr__(self, "registry", home / "registry")
        if self.db is None:
            object.__setattr__(self, "db", f"sqlite:///{home / 'events.db'}")
        return self

    @property
    def registry_path(self) -> Path:
        assert self.registry is not None
        return self.registry.expanduser()

    @property
    def db_url(self) -> str:
        assert self.db is not None
        return self.db


def load_settings(**overrides: Any) -> ServeSettings:
    """Settings from the environment with `overrides` (None values ignored) on top."""
    given = {k: v for k, v in overrides.items() if v is not None}
    try:
        return ServeSettings(**given)
    except ValidationError as exc:
        detail = describe_errors(
            exc, list(ServeSettings.model_fields), lambda key: f"LMREC_{key.upper()}"
        )
        raise ConfigError(f"invalid service settings: {detail}") from None
