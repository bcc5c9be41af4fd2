"""Where lmrec keeps its files: one place for the home and cache directories."""

from __future__ import annotations

import os
from pathlib import Path


def lmrec_home(home: str | Path | None = None) -> Path:
    """Downloads, the model registry and the event store: `home`, $LMREC_HOME or
    ~/.cache/lmrec."""
    if home is not None:
        return Path(home).expanduser()
    return Path(os.environ.get("LMREC_HOME") or Path.home() / ".cache" / "lmrec").expanduser()


def cache_dir(explicit: str | Path | None = None) -> Path:
    """Embeddings and exported encoders: explicit, then $LMREC_CACHE_DIR, then
    $XDG_CACHE_HOME/lmrec, then ~/.cache/lmrec."""
    if explicit is not None:
        return Path(explicit).expanduser()
    env = os.environ.get("LMREC_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "lmrec"
