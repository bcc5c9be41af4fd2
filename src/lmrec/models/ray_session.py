"""Joining Ray (the optional `lmrec[ray]` extra) for batch work and distributed training.

Ray is imported only inside these functions, so lmrec imports and runs without it. A
session either starts a small local Ray for the duration of one command (a few CPUs, a
small object store, no dashboard) or joins an existing cluster by address; it shuts down
only what it started.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lmrec.errors import ConfigError

#: object store of a local Ray started by lmrec: the blocks that pass through it are
#: score lists and datasets handed to training workers, not whole catalogues of vectors
LOCAL_OBJECT_STORE_BYTES = 256 * 1024**2


def ray_installed() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True


def require_ray(what: str) -> Any:
    """The ray module, or an error saying how to install it."""
    if not ray_installed():
        raise ConfigError(
            f"{what} needs Ray, which is not installed: pip install 'lmrec[ray]' "
            "(or run without it in one process)"
        )
    import ray

    return ray


@contextmanager
def ray_session(address: str | None, cpus: int, what: str) -> Iterator[Any]:
    """Ray for one command: the running one when this process is already connected, the
    cluster at `address` (e.g. "ray://head:10001" or "head:6379", or "auto" for the
    cluster this machine belongs to), else a local Ray limited to `cpus` CPUs."""
    ray = require_ray(what)
    if ray.is_initialized():
        yield ray
        return
    settings: dict[str, Any] = {"logging_level": logging.WARNING, "include_dashboard": False}
    if address is not None:
        try:
            ray.init(address=address, **settings)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise ConfigError(
                f"cannot join the Ray cluster at {address!r} ({exc}); start one with "
                "`ray start --head` (see docs/ray.md) or leave out --ray-address for a "
                "local Ray"
            ) from None
    else:
        try:
            ray.init(
                # "local": a new Ray of our own, even when this machine runs a cluster
                address="local",
                num_cpus=max(1, cpus),
                object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                **settings,
            )
        except Exception as exc:  # Ray raises a bare Exception when its node is late
            ray.shutdown()
            raise ConfigError(
                f"a local Ray did not start ({exc}); on a heavily loaded machine try again "
                "later, or run in one process (see docs/ray.md)"
            ) from None
    try:
        yield ray
    finally:
        ray.shutdown()
