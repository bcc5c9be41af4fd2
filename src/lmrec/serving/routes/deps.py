"""Typed dependency aliases shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from pydantic import AfterValidator

from lmrec.core.ids import check_id
from lmrec.serving.auth import require_key, require_read_key
from lmrec.serving.context import ServiceContext


def get_ctx(request: Request) -> ServiceContext:
    return request.app.state.ctx


Ctx = Annotated[ServiceContext, Depends(get_ctx)]
#: put in a route's `dependencies=` to need a key (writes, admin) or a read key if configured
WRITE = [Depends(require_key)]
READ = [Depends(require_read_key)]
#: an id in a URL path: the rule of every id (lmrec.core.ids); nothing is stripped from a path
PathId = Annotated[str, Path(min_length=1, max_length=256), AfterValidator(check_id)]
