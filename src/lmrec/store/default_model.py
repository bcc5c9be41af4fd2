"""Which registered model answers requests that name none.

The operator chooses it (`lmrec models default NAME`, kept in REGISTRY/default.json, so
every server on the registry and every restart agrees); until someone does, it is the
first name ever registered. Nothing else changes it: not promotions of other names, not
reloads, not catalogue additions. A server may override it for itself
(`lmrec serve --default-model NAME`, LMREC_DEFAULT_MODEL).
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from lmrec.errors import ArtifactError
from lmrec.store.registry import REGISTRATION_FILE, ModelRegistry, _atomic_write, _now

DEFAULT_FILE = "default.json"


@dataclass(frozen=True)
class DefaultChoice:
    """The default model's name and where the choice comes from: "settings" (this
    server's option), "registry" (`lmrec models default`) or "first registered"."""

    name: str | None
    source: str


def set_default(registry: ModelRegistry, name: str) -> str | None:
    """Make `name` the registry's default model; returns the previous choice (or None)."""
    registry._require_name(name)
    previous = read_default(registry)
    registry.root.mkdir(parents=True, exist_ok=True)
    _atomic_write(registry.root / DEFAULT_FILE, json.dumps({"name": name, "at": _now()}))
    return previous


def read_default(registry: ModelRegistry) -> str | None:
    """The name chosen with `set_default`, or None when nobody chose one."""
    path = registry.root / DEFAULT_FILE
    if not path.exists():
        return None
    try:
        name = json.loads(path.read_text()).get("name")
    except (OSError, json.JSONDecodeError, AttributeError) as exc:
        raise ArtifactError(
            f"{path}: cannot read the default model ({exc}); "
            "choose it again with `lmrec models default NAME`"
        ) from None
    return str(name) if name else None


def default_stamp(registry: ModelRegistry) -> int:
    """Changes whenever the default file is replaced (for cheap polling)."""
    try:
        return (registry.root / DEFAULT_FILE).stat().st_mtime_ns
    except FileNotFoundError:
        return 0


def first_registered(registry: ModelRegistry) -> str | None:
    """The name whose first version was registered before any other name's (by the
    registration file's time, which is never rewritten; ties: by name)."""
    firsts: list[tuple[int, str]] = []
    for name in registry.names():
        versions = registry.versions(name)
        if not versions:
            continue
        try:
            stamp = (registry.root / name / versions[0] / REGISTRATION_FILE).stat().st_mtime_ns
        except FileNotFoundError:
            stamp = 0
        firsts.append((stamp, name))
    return min(firsts)[1] if firsts else None


def resolve_default(registry: ModelRegistry, configured: str | None = None) -> DefaultChoice:
    """The default model: the server's own setting, else the registry's choice, else the
    first name registered."""
    if configured:
        return DefaultChoice(configured, "settings")
    chosen = read_default(registry)
    if chosen:
        return DefaultChoice(chosen, "registry")
    return DefaultChoice(first_registered(registry), "first registered")
