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


def build_config(config_class: type[C], values: dict[str, Any]) -> C:
    """Validate values into a config, turning pydantic's errors into one clear line.

    A dotted key sets a value inside a nested table: `encoder.model=DIR` is
    `encoder={"model": DIR}`, merged with what the table already holds."""
    try:
        return config_class(**nest_dotted(values))
    except ValidationError as exc:
        detail = describe_errors(exc, list(config_class.model_fields))
        raise ConfigError(f"{config_class.__name__}: {detail}") from None


def nest_dotted(values: dict[str, Any]) -> dict[str, Any]:
    """{"text.encoder.model": X, "epochs": 3} -> {"text": {"encoder": {"model": X}}, "epochs": 3};
    dotted keys are applied after plain ones, so they win inside a table."""
    out: dict[str, Any] = {k: v for k, v in values.items() if "." not in k}
    for key, value in values.items():
        if "." not in key:
            continue
        *tables, leaf = key.split(".")
        node = out
        for depth, table in enumerate(tables):
            current = node.get(table, {})
            if isinstance(current, BaseModel):
                current = current.model_dump()
            if not isinstance(current, dict):
                path = ".".join(tables[: depth + 1])
                raise ConfigError(f"'{key}': '{path}' is a single value, not a table")
            node[table] = current = dict(current)
            node = current
        node[leaf] = value
    return out
