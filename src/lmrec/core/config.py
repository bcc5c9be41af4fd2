"""Typed configs from plain values, with pydantic's errors turned into one clear line."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from lmrec.errors import ConfigError

C = TypeVar("C", bound=BaseModel)


def describe_errors(
    exc: ValidationError, fields: list[str], name_key: Callable[[str], str] = str
) -> str:
    """pydantic's errors as '; '-joined sentences naming each key (`name_key` renders a
    key the way the user wrote it, e.g. an environment variable)."""
    problems = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(config)"
        msg = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            problems.append(f"unknown key '{name_key(key)}' (allowed: {', '.join(sorted(fields))})")
        elif err["type"] == "missing":
            problems.append(f"'{name_key(key)}' is required")
        else:
            problems.append(f"'{name_key(key)}': {msg} (got {err.get('input')!r})")
    return "; ".join(problems)


def nest_dotted(values: dict[str, Any]) -> dict[str, Any]:
    """`{"privacy.epsilon": 8}` -> `{"privacy": {"epsilon": 8}}` (what `--set a.b=v`
    gives), merged with a table given for the same key."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        head, dot, rest = key.partition(".")
        if not dot:
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = {**value, **out[key]}
            else:
                out[key] = value
            continue
        table = out.get(head)
        if not isinstance(table, dict):
            table = {}
        out[head] = nest_dotted({**table, rest: value})
    return out


def build_config(config_class: type[C], values: dict[str, Any]) -> C:
    """Validate values into a config, turning pydantic's errors into one clear line.
    Dotted keys set fields of nested tables (`privacy.epsilon`)."""
    try:
        return config_class(**nest_dotted(values))
    except ValidationError as exc:
        detail = describe_errors(exc, list(config_class.model_fields))
        raise ConfigError(f"{config_class.__name__}: {detail}") from None
