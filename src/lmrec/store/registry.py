"""Versioned model artifacts on disk and which version of each is live.

Layout:
  REGISTRY/NAME/VERSION/     a model directory as written by `save_model`, plus
                             registration.json (metrics, data fingerprint, time)
  REGISTRY/NAME/state.json   {"live": VERSION, "stack": [...], "history": [...]}

Versions are 1, 2, 3, ... per name. `stack` holds the versions promoted in turn (a
rollback pops the top one); `history` records every action. The state file is replaced
atomically (temp file + os.replace) under a lock, so a reader never sees half a file and
two writers never lose each other's change.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lmrec.core.paths import lmrec_home
from lmrec.errors import ArtifactError, ConfigError, ConflictError, UnknownIdError

try:  # POSIX advisory locks; other systems rely on the atomic replace alone
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
STATE_FILE = "state.json"
REGISTRATION_FILE = "registration.json"


def default_registry_path() -> Path:
    return lmrec_home() / "registry"


@dataclass
class VersionInfo:
    """One registered version of a named model."""

    name: str
    version: str
    model: str
    path: Path
    live: bool
    registered: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    fingerprint: str | None = None
    #: what a private training spent (model.json's "privacy"); None: not private
    privacy: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "model": self.model,
            "live": self.live,
            "registered": self.registered,
            "metrics": self.metrics,
            "fingerprint": self.fingerprint,
            "privacy": self.privacy,
            "path": str(self.path),
        }


class ModelRegistry:
    """Register, promote and roll back model versions kept under one directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser()

    @classmethod
    def default(cls) -> ModelRegistry:
        return cls(default_registry_path())

    # ---- writing ---------------------------------------------------------------------------
    def register(
        self,
        model_dir_or_model: Any,
        name: str,
        *,
        metrics: dict[str, Any] | None = None,
        fingerprint: str | None = None,
        promote: bool | None = None,
    ) -> str:
        """Copy a model directory (or save a fitted Recommender) as the next version of
        `name` and return that version. `promote=None` makes it live when no version of
        `name` is live yet."""
        _check_name(name)
        base = self.root / name
        base.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".incoming-", dir=base))
        try:
            meta = self._stage(model_dir_or_model, staging)
            registration = {
                "registered": _now(),
                "metrics": metrics if metrics is not None else _read_metrics(staging),
                "fingerprint": fingerprint or meta.get("train_fingerprint"),
            }
            (staging / REGISTRATION_FILE).write_text(json.dumps(registration, indent=2))
            version = self._claim_version(base, staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        with self._locked_state(name) as state:
            state["history"].append({"action": "register", "version": version, "at": _now()})
            if promote or (promote is None and state["live"] is None):
                _set_live(state, version, "promote")
        return version

    def promote(self, name: str, version: str | int) -> str | None:
        """Make `version` live; returns the version that was live before (or None)."""
        version = str(version)
        self.version_path(name, version)  # raises for an unknown version
        with self._locked_state(name) as state:
            previous = state["live"]
            _set_live(state, version, "promote")
        return previous

    def rollback(self, name: str) -> str:
        """Make the previously live version live again; returns it."""
        self._require_name(name)
        with self._locked_state(name) as state:
            stack = state["stack"]
            if len(stack) < 2:
                raise ConflictError(
                    f"model '{name}' has no earlier live version to roll back to "
                    f"(live: {state['live']}); promote a version instead"
                )
            stack.pop()
            state["live"] = stack[-1]
            state["history"].append({"action": "rollback", "version": stack[-1], "at": _now()})
            return stack[-1]

    # ---- reading ---------------------------------------------------------------------------
    def names(self) -> list[str]:
        if not self.root.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and _NAME.match(p.name))

    def versions(self, name: str) -> list[str]:
        base = self.root / name
        if not base.is_dir():
            return []
        found = [p.name for p in base.iterdir() if p.is_dir() and p.name.isdigit()]
        return sorted(found, key=int)

    def live_version(self, name: str) -> str | None:
        return self.state(name)["live"]

    def state(self, name: str) -> dict[str, Any]:
        path = self.root / name / STATE_FILE
        if not path.exists():
            return _empty_state()
        try:
            return json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ArtifactError(f"{path}: not valid JSON ({exc})") from None

    def state_stamp(self, name: str) -> int:
        """Changes whenever `name`'s state file is replaced (for cheap polling)."""
        try:
            return (self.root / name / STATE_FILE).stat().st_mtime_ns
        except FileNotFoundError:
            return 0

    def live_models(self) -> dict[str, str]:
        """name -> live version, for every name that has one."""
        out = {}
        for name in self.names():
            live = self.live_version(name)
            if live is not None:
                out[name] = live
        return out

    def version_path(self, name: str, version: str | int) -> Path:
        self._require_name(name)
        path = self.root / name / str(version)
        if not str(version).isdigit() or not (path / "model.json").exists():
            known = ", ".join(self.versions(name)) or "none"
            raise UnknownIdError(f"model '{name}' has no version {version!r} (versions: {known})")
        return path

    def info(self, name: str, version: str) -> VersionInfo:
        path = self.version_path(name, version)
        meta = _read_json(path / "model.json")
        reg = _read_json(path / REGISTRATION_FILE) if (path / REGISTRATION_FILE).exists() else {}
        return VersionInfo(
            name=name,
            version=version,
            model=str(meta.get("model", "?")),
            path=path,
            live=self.live_version(name) == version,
            registered=reg.get("registered", ""),
            metrics=reg.get("metrics") or {},
            fingerprint=reg.get("fingerprint"),
            privacy=meta.get("privacy"),
        )

    def list(self) -> list[VersionInfo]:
        """Every version of every name, oldest version first."""
        return [self.info(n, v) for n in self.names() for v in self.versions(n)]

    # ---- helpers ---------------------------------------------------------------------------
    def _require_name(self, name: str) -> None:
        _check_name(name)
        if not (self.root / name).is_dir():
            known = ", ".join(self.names()) or "none registered"
            raise UnknownIdError(f"no model named '{name}' in {self.root} (known: {known})")

    def _stage(self, source: Any, staging: Path) -> dict[str, Any]:
        from lmrec.models.artifacts import read_meta, save_model
        from lmrec.models.base import Recommender

        if isinstance(source, Recommender):
            save_model(source, staging)
        else:
            src = Path(source)
            meta = read_meta(src)  # raises a clear error when src is no model directory
            shutil.copytree(src, staging, dirs_exist_ok=True)
            return meta
        return read_meta(staging)

    @staticmethod
    def _claim_version(base: Path, staging: Path) -> str:
        # rename() of a directory onto an existing one fails, so concurrent registrations
        # each get their own number.
        while True:
            taken = [int(p.name) for p in base.iterdir() if p.name.isdigit()]
            version = str(max(taken, default=0) + 1)
            try:
                staging.rename(base / version)
                return version
            except OSError:
                if not (base / version).exists():
                    raise

    @contextlib.contextmanager
    def _locked_state(self, name: str) -> Iterator[dict[str, Any]]:
        base = self.root / name
        base.mkdir(parents=True, exist_ok=True)
        with open(base / ".lock", "a+") as lock:
            if fcntl is not None:
                fcntl.flock(lock, fcntl.LOCK_EX)
            state = self.state(name)
            yield state
            _atomic_write(base / STATE_FILE, json.dumps(state, indent=2))


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _set_live(state: dict[str, Any], version: str, action: str) -> None:
    if state["live"] == version:
        return  # promoting the live version changes nothing (and must not bury a rollback)
    state["live"] = version
    state["stack"].append(version)
    state["history"].append({"action": action, "version": version, "at": _now()})


def _empty_state() -> dict[str, Any]:
    return {"live": None, "stack": [], "history": []}


def _check_name(name: str) -> None:
    if not _NAME.match(name):
        raise ConfigError(
            f"invalid model name {name!r}: use letters, digits, '_', '.', '-' "
            "(starting with a letter or digit, at most 64 characters)"
        )


def _read_metrics(path: Path) -> dict[str, Any]:
    metrics = path / "metrics.json"
    return _read_json(metrics) if metrics.exists() else {}


def _read_json(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"{path}: cannot read ({exc})") from None


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


# ---- plain functions over a registry (the default one unless `registry` is given) ------------
def _open(registry: str | Path | ModelRegistry | None) -> ModelRegistry:
    if isinstance(registry, ModelRegistry):
        return registry
    return ModelRegistry(registry) if registry is not None else ModelRegistry.default()


def register(
    model_dir_or_model: Any,
    name: str,
    *,
    metrics: dict[str, Any] | None = None,
    fingerprint: str | None = None,
    promote: bool | None = None,
    registry: str | Path | ModelRegistry | None = None,
) -> str:
    """Add a model directory or fitted model as the next version of `name`."""
    return _open(registry).register(
        model_dir_or_model, name, metrics=metrics, fingerprint=fingerprint, promote=promote
    )


def promote(name: str, version: str | int, registry: str | Path | None = None) -> str | None:
    return _open(registry).promote(name, version)


def rollback(name: str, registry: str | Path | None = None) -> str:
    return _open(registry).rollback(name)


def list_versions(registry: str | Path | None = None) -> list[VersionInfo]:
    return _open(registry).list()
