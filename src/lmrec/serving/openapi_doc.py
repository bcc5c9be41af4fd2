"""The OpenAPI document, completed with every answer the server gives.

FastAPI documents a route's success and a 422 in its own shape. This server answers
every error as `application/problem+json` (serving.problems), and some answers come from
outside the route: keys (401, 403), the body limit (413), admission control (429) and the
event store (503). Those are added here by rule, each route's own (404, 409) are declared
on the route, and what depends on the server is written in: the largest k, the names of
its live models (`model=`; those that search text for a search) and the item fields they
have (`fields=`). Request bodies take numbers where they take
strings (an id may be sent as 42), so their string properties say so.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any, NamedTuple

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from lmrec.core.ids import ID_PATTERN, PRINTABLE_PATTERN, TEXT_PATTERN
from lmrec.search import supports_text_search
from lmrec.serving.item_fields import field_names
from lmrec.serving.routes.problem_docs import problem_response
from lmrec.serving.schemas import Problem, Strict, ValidationProblem
from lmrec.serving.settings import ServeSettings

_METHODS = ("get", "post", "put", "patch", "delete")


def install_openapi(app: FastAPI, settings: ServeSettings) -> None:
    """Replace `app.openapi` by the completed document (built once, then cached)."""
    app.openapi = _builder(app, settings)  # type: ignore[method-assign]


def _builder(app: FastAPI, settings: ServeSettings) -> Callable[[], dict[str, Any]]:
    built: dict[LiveNames, dict[str, Any]] = {}

    def build() -> dict[str, Any]:
        # rebuilt when the live models change (a promotion may add a name or a field)
        ctx = getattr(app.state, "ctx", None)
        live = ctx.hub.snapshot() if ctx is not None else {}
        fields = {name for m in live.values() for name in field_names(m)}
        key = LiveNames(
            models=tuple(sorted(live)),
            searchable=tuple(sorted(n for n, m in live.items() if supports_text_search(m.model))),
            fields=tuple(sorted(fields)),
        )
        if key not in built:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                summary=app.summary,
                routes=app.routes,
            )
            complete(doc, settings, key)
            built.clear()
            built[key] = doc
        app.openapi_schema = built[key]
        return built[key]

    return build


class LiveNames(NamedTuple):
    """What the live models make valid in a request."""

    models: tuple[str, ...] = ()
    #: the live models that search text
    searchable: tuple[str, ...] = ()
    #: item fields of any live model
    fields: tuple[str, ...] = ()


def complete(doc: dict[str, Any], settings: ServeSettings, live: LiveNames) -> None:
    """Add the problem answers and schemas, the settings' limits and what the live models
    make valid to `doc` in place."""
    fields = list(live.fields)
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})
    for model in (Problem, ValidationProblem):
        found = model.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(found.pop("$defs", {}))
        schemas[model.__name__] = found
    for path, item in doc.get("paths", {}).items():
        for method in _METHODS:
            if method in item:
                _complete_operation(path, item[method], settings)
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    requests = {cls.__name__ for cls in _subclasses(Strict)}
    for name, schema in schemas.items():
        properties = schema.get("properties", {})
        _cap_k(properties, settings.max_k)
        if name in requests:
            if "fields" in properties:
                properties["fields"] = _listed_fields(properties["fields"], fields)
            latest = min(time.time() + settings.event_max_future_seconds, LAST_SECOND)
            for prop, value in properties.items():
                properties[prop] = _numbers_as_strings(value, latest)
            if "filters" in properties:
                properties["filters"] = _single_values(properties["filters"])
            if "model" in properties:
                names = live.searchable if name == "SearchRequest" else live.models
                properties["model"] = _one_of(properties["model"], names)
    for item in doc.get("paths", {}).values():
        for method in _METHODS:
            for param in item.get(method, {}).get("parameters", []):
                if param.get("name") == "fields" and param.get("in") == "query":
                    param["schema"] = _fields_query(param["schema"], fields)
                if param.get("name") == "model" and param.get("in") == "query":
                    param["schema"] = _one_of(param["schema"], live.models)


def _complete_operation(path: str, op: dict[str, Any], settings: ServeSettings) -> None:
    responses = op.setdefault("responses", {})
    params = op.get("parameters", [])
    statuses: set[int] = set()
    if path.startswith("/v1/"):
        # any key rule (401/403), a LmrecError (400), admission control (429), the store
        statuses |= {400, 401, 403, 429, 503}
    if params or "requestBody" in op:
        statuses.add(422)
    if "requestBody" in op:
        statuses |= {400, 413}
    for status in statuses:
        responses.setdefault(str(status), {})
    # Every error is a problem body; FastAPI's own entries (its 422 shape, an empty
    # application/json beside a route's declared problem) are not what the server sends.
    for key in list(responses):
        if key.isdigit() and int(key) >= 400:
            responses[key] = problem_response(int(key))
    op["responses"] = dict(sorted(responses.items()))
    for param in params:
        if param.get("name") == "k":
            _cap_k({"k": param.get("schema", {})}, settings.max_k)


def _subclasses(cls: type) -> list[type]:
    found: list[type] = []
    subs: list[type] = cls.__subclasses__()
    for sub in subs:
        found += [sub, *_subclasses(sub)]
    return found


#: patterns every number's digits match (so a number is as good as the string)
_DIGITS_MATCH = (ID_PATTERN, PRINTABLE_PATTERN, TEXT_PATTERN, r"\S")
#: 9999-12-31T23:59:59Z, the last time a timestamp can name
LAST_SECOND = 253_402_300_799.0
#: a date-time from 1970 on (year 1970-9999; the server also refuses times further ahead
#: than it allows, which a pattern cannot say)
_FROM_1970 = r"^(19[7-9][0-9]|[2-9][0-9]{3})-"


def _numbers_as_strings(schema: Any, latest: float) -> Any:
    """A request property's schema where every plain string also takes a number (the
    request models coerce numbers to strings); a string with a pattern does not, since
    the number's digits may not match it (the id rule's pattern always matches digits),
    nor does a date-time, which takes seconds since the epoch instead (from 1970 on)."""
    if not isinstance(schema, dict):
        return schema
    if schema.get("type") == "string" and "enum" not in schema:
        if schema.get("format") == "date-time":
            seconds = {"type": "number", "minimum": 0, "maximum": latest}
            return {"anyOf": [{**schema, "pattern": _FROM_1970}, seconds]}
        if "pattern" not in schema or schema["pattern"] in _DIGITS_MATCH:
            number = {"type": "number"}
            rest = {k: v for k, v in schema.items() if k in ("title", "description", "default")}
            core = {k: v for k, v in schema.items() if k not in rest}
            return {"anyOf": [core, number], **rest}
        return schema
    out = dict(schema)
    for key in ("items", "additionalProperties"):
        if key in out:
            out[key] = _numbers_as_strings(out[key], latest)
    for key in ("anyOf", "oneOf"):
        if key in out:
            out[key] = [_numbers_as_strings(s, latest) for s in out[key]]
    return out


def _one_of(schema: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    """A nullable model name: one of `names` (another answers 404, or 422 for a model
    that cannot do what was asked)."""
    one: dict[str, Any] = {"type": "string", "enum": list(names)} if names else {"not": {}}
    return {**{k: v for k, v in schema.items() if k != "anyOf"}, "anyOf": [one, {"type": "null"}]}


def _single_values(schema: dict[str, Any]) -> dict[str, Any]:
    """`filters`: a single value stands for a list of one ({"genre": "Comedy"})."""
    out = dict(schema)
    for option in out.get("anyOf", []):
        values = option.get("additionalProperties")
        if isinstance(values, dict) and values.get("type") == "array":
            option["additionalProperties"] = {"anyOf": [values, *values["items"]["anyOf"]]}
    return out


def _listed_fields(schema: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """`fields` in a body: a list of the item fields the live models have."""
    out = dict(schema)
    for option in out.get("anyOf", []):
        if option.get("type") == "array":
            listed: dict[str, Any] = {"type": "string", "enum": fields}
            option["items"] = listed if fields else {"not": {}}
    return out


def _fields_query(schema: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """`fields=title,genre` in a query: comma-separated names of the live models' item
    fields; blank parts and spaces around a name are ignored, as the server reads it."""
    names = "|".join(re.escape(name) for name in fields) or "(?!)"
    part = rf"\s*(?:(?:{names})\s*)?"
    pattern = rf"^{part}(?:,{part})*$"
    out = dict(schema)
    for option in out.get("anyOf", []):
        if option.get("type") == "string":
            option["pattern"] = pattern
    return out


def _cap_k(properties: dict[str, Any], max_k: int) -> None:
    k = properties.get("k")
    if isinstance(k, dict) and "maximum" in k:
        k["maximum"] = max_k
        k["description"] = f"number of items (1..{max_k} on this server)"
