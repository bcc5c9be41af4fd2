"""Typed dependency aliases shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from lmrec.serving.auth import (
    require_admin,
    require_personal_read,
    require_read_key,
    require_write,
)
from lmrec.serving.context import ServiceContext


def get_ctx(request: Request) -> ServiceContext:
    return request.app.state.ctx


Ctx = Annotated[ServiceContext, Depends(get_ctx)]
#: put in a route's `dependencies=`: the scope of key it needs (see serving.auth)
ADMIN = [Depends(require_admin)]
WRITE = [Depends(require_write)]
#: reads that reveal nothing about a user (a key only when read_access is "key")
READ = [Depends(require_read_key)]
#: reads that always name a user (a read key unless read_access is "open")
PERSONAL = [Depends(require_personal_read)]
