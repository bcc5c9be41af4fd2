"""Typed dependency aliases shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from lmrec.serving.auth import require_key, require_read_key
from lmrec.serving.context import ServiceContext


def get_ctx(request: Request) -> ServiceContext:
    return request.app.state.ctx


Ctx = Annotated[ServiceContext, Depends(get_ctx)]
#: put in a route's `dependencies=` to need a key (writes, admin) or a read key if configured
WRITE = [Depends(require_key)]
READ = [Depends(require_read_key)]
