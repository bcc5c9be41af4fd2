"""Request and response bodies of the HTTP API.

Ids are the user's own and travel as strings; numbers are accepted and turned into
strings. Unknown keys are refused so that a typo ("user" for "user_id") is reported
instead of silently ignored.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StringConstraints,
    field_validator,
    model_validator,
)

from lmrec.core.ids import (
    ID_PATTERN,
    PRINTABLE_PATTERN,
    TEXT_PATTERN,
    check_id,
    check_path_id,
    check_text,
)
from lmrec.core.rerank import SPEC_PATTERN, RerankSpec
from lmrec.errors import ConfigError

MAX_K = 1000
MAX_EXPLAIN = 100  # explanations cost a similarity and attribute pass per item
MAX_BATCH_ROWS = 100_000  # users x k in one batch request (bounds the answer's size)
#: ids follow one rule on every route and both databases (lmrec.core.ids): printable
Id = Annotated[
    str,
    StringConstraints(min_length=1, max_length=256, strip_whitespace=True),
    # the rule as a pattern in the API document; check_id enforces it with a clear message
    # (blank ids are empty once stripped, refused by min_length)
    Field(json_schema_extra={"pattern": ID_PATTERN}),
    AfterValidator(check_id),
]
EventId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128),
    Field(json_schema_extra={"pattern": ID_PATTERN}),
    AfterValidator(check_path_id),
]
RequestId = Annotated[
    str,
    StringConstraints(max_length=64),
    Field(json_schema_extra={"pattern": PRINTABLE_PATTERN}),
    AfterValidator(check_id),
]
#: free text keeps tabs and line breaks, but not NUL (PostgreSQL cannot store it)
ItemText = Annotated[
    str,
    StringConstraints(max_length=20_000),
    Field(json_schema_extra={"pattern": TEXT_PATTERN}),
    AfterValidator(check_text),
]


def _epoch_seconds(value: Any) -> Any:
    """A number is seconds since the epoch, whatever its size (pydantic alone would read
    a large one as milliseconds, so one far-future time would pass as 1973)."""
    if isinstance(value, bool):
        raise ValueError("a timestamp is seconds since the epoch or ISO 8601, not true/false")
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise ValueError(
                f"{value} is not a time in seconds since the epoch (it lies beyond the year "
                "9999): send seconds, not milliseconds"
            ) from None
    return value


def _from_1970(value: datetime) -> datetime:
    stamp = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    # the year as written (its own zone), as the API document's pattern states it
    if value.replace(tzinfo=None) < datetime(1970, 1, 1):
        raise ValueError(f"{value.isoformat()} is before 1970-01-01; send the time it happened")
    return stamp


#: when an event happened, as an aware datetime (a time without zone is read as UTC)
EventTime = Annotated[datetime, BeforeValidator(_epoch_seconds), AfterValidator(_from_1970)]


def _json_integer(value: Any) -> Any:
    """A JSON integer (5, or 5.0, which JSON Schema counts as one): true and "5" are
    refused rather than read as a number."""
    if isinstance(value, bool | str):
        raise ValueError("k must be a JSON integer")
    return value


K = Annotated[
    int,
    Field(ge=1, le=MAX_K, description=f"number of items (1..{MAX_K})"),
    BeforeValidator(_json_integer),
]
AttributeValue = str | int | float | bool | list[str]
FieldName = Annotated[str, StringConstraints(min_length=1, max_length=128)]


def _checked_rerank(value: str | None) -> str | None:
    """A re-ranker spec (mmr:0.5, calibrated:0.3) as its normal label; a bad one is a
    validation error naming the forms that work."""
    if value is None:
        return None
    try:
        return RerankSpec.parse(value).label
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


Rerank = Annotated[
    str | None,
    Field(
        max_length=64,
        pattern=SPEC_PATTERN,
        description="re-rank the model's top 100: mmr:LAMBDA (varied items, by their text) "
        "or calibrated:LAMBDA (the user's genre mix), LAMBDA in [0, 1]",
    ),
    AfterValidator(_checked_rerank),
]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


def _listify(value: Any) -> Any:
    """A single attribute value in a filter means a list of one."""
    if isinstance(value, dict):
        return {k: v if isinstance(v, list) else [v] for k, v in value.items()}
    return value


#: how an explanation is given (explain=true)
ExplainStyle = Literal["template", "text"]


class RecommendationRequest(Strict):
    user_id: Id | None = None
    history: list[Id] | None = Field(default=None, max_length=10_000)
    k: K = 10
    filters: dict[str, list[str]] | None = Field(
        default=None, description="item attribute -> allowed values, e.g. {'genre': ['Comedy']}"
    )
    exclude: list[Id] | None = Field(default=None, max_length=10_000)
    exclude_seen: StrictBool = True
    model: str | None = None
    explain: StrictBool = Field(
        default=False, description=f"explain each item (k up to {MAX_EXPLAIN})"
    )
    style: ExplainStyle = Field(
        default="template",
        description="with explain=true (ignored without): 'template' (the fast default: "
        "similar history items, shared attributes, the model's signal) or 'text' (the same "
        "and one sentence per item from a small language model; needs the llm extra)",
    )
    fields: list[FieldName] | None = Field(
        default=None, max_length=50, description="item fields to include, e.g. ['title']"
    )
    rerank: Rerank = None

    @model_validator(mode="after")
    def _explain_few(self) -> RecommendationRequest:
        if self.explain and self.k > MAX_EXPLAIN:
            raise ValueError(f"explain=true allows k up to {MAX_EXPLAIN} (got {self.k})")
        return self

    @field_validator("filters", mode="before")
    @classmethod
    def _wrap_filters(cls, value: Any) -> Any:
        return _listify(value)


class Contribution(BaseModel):
    item_id: str
    similarity: float


class SharedAttribute(BaseModel):
    attribute: str
    value: str
    history_items: int


class ModelSignal(BaseModel):
    score: float
    rank: int
    of: int
    details: Any = None


class Explanation(BaseModel):
    item_id: str
    because_of: list[Contribution]
    shared_attributes: list[SharedAttribute]
    model_signal: ModelSignal | None = None
    #: what a ranker could not read for this user and item (no user attributes, no item
    #: text) and so fell back on; empty when nothing was missing or the model has no ranker
    notes: list[str] = []
    #: with style=text: one sentence from a small language model, naming the first of
    #: `because_of` (by title) where there is one; null with the template style
    text: str | None = None


class ScoredItem(BaseModel):
    item_id: str
    score: float
    explanation: Explanation | None = None
    #: the item fields asked for with `fields=` (e.g. title), else null
    fields: dict[str, Any] | None = None


class RecommendationResponse(BaseModel):
    items: list[ScoredItem]
    model: str
    version: str
    request_id: str
    cold_start: bool
    #: the A/B arm (LMREC_AB) this user is assigned to; null outside a test
    arm: str | None = None


class SimilarResponse(BaseModel):
    item_id: str
    items: list[ScoredItem]
    model: str
    version: str


class SearchRequest(Strict):
    query: Annotated[str, StringConstraints(min_length=1, max_length=2000, pattern=r"\S")]
    k: K = 10
    user_id: Id | None = None
    blend: StrictFloat = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        description="with user_id: share of the model's own scores for the user in the "
        "order (0: text similarity, leaning toward the user's history; 1: the model's scores)",
    )
    filters: dict[str, list[str]] | None = None
    exclude: list[Id] | None = Field(default=None, max_length=10_000)
    model: str | None = None
    fields: list[FieldName] | None = Field(
        default=None, max_length=50, description="item fields to include, e.g. ['title']"
    )

    @field_validator("filters", mode="before")
    @classmethod
    def _wrap_filters(cls, value: Any) -> Any:
        return _listify(value)


class SearchResponse(BaseModel):
    query: str
    items: list[ScoredItem]
    model: str
    version: str
    request_id: str


class ExplanationResponse(Explanation):
    user_id: str
    model: str
    version: str


class Event(Strict):
    event_id: EventId
    user_id: Id
    item_id: Id
    type: Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_-]{0,31}$")] = Field(
        description="view, click, purchase, rating, ... (letters, digits, '_', '-')"
    )
    value: StrictFloat | None = None
    timestamp: EventTime | None = Field(
        default=None,
        description="seconds since the epoch or ISO 8601 (UTC when no zone is given), from "
        "1970 on and not further ahead than the server allows (default 1 day); "
        "default: arrival time",
    )
    request_id: RequestId | None = Field(
        default=None, description="the request_id of the recommendation this event answers"
    )

    @field_validator("value")
    @classmethod
    def _finite(cls, v: float | None) -> float | None:
        if v is not None and not math.isfinite(v):
            raise ValueError("value must be a finite number")
        return v


class EventBatch(Strict):
    events: list[Event] = Field(min_length=1, max_length=100_000)

    @model_validator(mode="before")
    @classmethod
    def _accept_array(cls, value: Any) -> Any:
        return {"events": value} if isinstance(value, list) else value


class EventsResponse(BaseModel):
    received: int
    new: int
    duplicates: int


class ForgetResponse(BaseModel):
    """What forgetting a user deleted; the audit table keeps only `user_key`."""

    user_key: str = Field(description="keyed hash of the user id: the audit table's record")
    events_deleted: int
    served_deleted: int = Field(description="rows of served recommendation lists deleted")
    models: dict[str, str] = Field(
        description="per live model: 'forgotten' (the user's state removed) or 'not in model'"
    )


class CatalogueItem(Strict):
    item_id: Id
    text: ItemText | None = None
    attributes: dict[str, AttributeValue] = Field(default_factory=dict)


class ItemsRequest(Strict):
    items: list[CatalogueItem] = Field(min_length=1, max_length=100_000)

    @model_validator(mode="before")
    @classmethod
    def _accept_array(cls, value: Any) -> Any:
        return {"items": value} if isinstance(value, list) else value


class ItemsResponse(BaseModel):
    received: int
    created: int
    updated: int
    #: per live model: "added" (recommendable and searchable now) or "pending" (until retrain)
    models: dict[str, Literal["added", "pending"]]


class ModelVersion(BaseModel):
    name: str
    version: str
    model: str
    live: bool
    loaded: bool
    registered: str
    metrics: dict[str, Any]
    fingerprint: str | None
    privacy: dict[str, Any] | None = Field(
        None,
        description="a privately trained version: epsilon and delta spent, accountant, "
        "unit of privacy and the guarantee in words; null: not private",
    )
    exploration: str | None = Field(
        None,
        description="how this server draws the live version's lists (LMREC_EXPLORATION): "
        "greedy, epsilon:E, softmax:T or thompson:L; null for versions that are not live",
    )


class ModelsResponse(BaseModel):
    #: the model answering requests that name none
    default: str | None
    #: who chose it: "settings" (this server), "registry" (`lmrec models default`) or
    #: "first registered" (nobody chose yet)
    default_source: str
    #: whether it is loaded here (when not, requests naming no model answer 503)
    default_live: bool
    versions: list[ModelVersion]
    load_errors: dict[str, str]


class PromoteResponse(BaseModel):
    name: str
    version: str
    previous: str | None
    model: str
    #: the checks against the live version (promotion only): check, passed, detail
    checks: list[dict[str, Any]] = Field(default_factory=list)
    #: promoted with force=true although a check failed
    forced: bool = False


class BatchRecommendationRequest(Strict):
    user_ids: list[Id] = Field(min_length=1, max_length=100_000)
    k: K = 10
    filters: dict[str, list[str]] | None = Field(
        default=None, description="item attribute -> allowed values, e.g. {'genre': ['Comedy']}"
    )
    exclude: list[Id] | None = Field(default=None, max_length=10_000)
    exclude_seen: StrictBool = True
    model: str | None = None
    fields: list[FieldName] | None = Field(
        default=None, max_length=50, description="item fields to include, e.g. ['title']"
    )
    rerank: Rerank = None

    @field_validator("filters", mode="before")
    @classmethod
    def _wrap_filters(cls, value: Any) -> Any:
        return _listify(value)


class UserRecommendations(BaseModel):
    user_id: str
    items: list[ScoredItem]
    #: the model that answered this user (the cold-start model for an unknown user)
    model: str
    version: str
    cold_start: bool
    #: quote it in events answering this list (click-through rates)
    request_id: str


class BatchRecommendationResponse(BaseModel):
    results: list[UserRecommendations]


class ItemResponse(BaseModel):
    item_id: str
    #: the item's row in the model's item table (title, genres, ...), else {}
    fields: dict[str, Any]
    #: the model whose table `fields` come from, if any
    model: str | None
    #: live models that can recommend the item
    known_to: list[str]
    #: text and attributes sent with POST /v1/items, if it was added that way
    catalogue: CatalogueItem | None = None


class Problem(BaseModel):
    """RFC 7807 problem details."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    #: the parts at fault, when the problem has several (e.g. promotion checks)
    errors: list[dict[str, Any]] | None = None


class FieldError(BaseModel):
    #: where: "body k", "query user_id", "path item_id", ...
    field: str
    message: str
    #: the rule broken (pydantic's error type, e.g. "less_than_equal")
    type: str


class ValidationProblem(BaseModel):
    """RFC 7807 problem details of a request that broke the API's rules (422)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    #: one entry per field at fault (absent when the rule spans the whole request)
    errors: list[FieldError] | None = None
