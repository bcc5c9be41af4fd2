"""Model configuration from TOML files and `--set key=value` overrides."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from lmrec.errors import ConfigError


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config; a `[model]` table, if present, holds the model's keys (without
    one, the top-level keys do). A `[data]` table says how to read the data: see
    `read_data_table`."""
    data = _load(path)
    model = data.get("model", {k: v for k, v in data.items() if k != "data"})
    if not isinstance(model, dict):
        raise ConfigError(f"{path}: [model] must be a table of settings")
    return {k: v for k, v in model.items() if k != "name"}


def read_data_table(path: str | Path) -> dict[str, Any]:
    """The `[data]` table of a TOML config ({} when there is none)."""
    table = _load(path).get("data", {})
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [data] must be a table (path, columns, items, ...)")
    return table


def _load(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.exists():
        raise ConfigError(f"config file {p} does not exist")
    try:
        return tomllib.loads(p.read_text())
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML ({exc})") from None


def parse_set(pairs: list[str] | None) -> dict[str, Any]:
    """Parse `key=value` strings; values are read as TOML literals, else as strings.

    `reg=250` gives an int, `reg=2.5e2` a float, `loss=ce` the string "ce".
    """
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, raw = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ConfigError(f"--set expects key=value, got {pair!r}")
        try:
            out[key] = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            out[key] = raw
    return out


def model_settings(config_path: str | Path | None, sets: list[str] | None) -> dict[str, Any]:
    """Settings from a TOML file overlaid with --set values."""
    values = read_toml(config_path) if config_path else {}
    values.update(parse_set(sets))
    return values
