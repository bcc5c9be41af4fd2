"""Thread control for the numeric libraries, scoped to a block so that a library call
never changes the caller's process settings."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from lmrec.errors import ConfigError


@contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """Use `n` torch intra-op threads inside the block (None: leave torch's choice),
    restoring the previous setting after. torch is imported only when a number is given."""
    if n is None:
        yield
        return
    if n < 1:
        raise ConfigError(f"threads must be a positive number (got {n})")
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
