"""Typed dependency aliases shared by the routers."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Request
from pydantic import AfterValidator

from lmrec.core.ids import ID_PATTERN, check_path_id
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
#: an id in a URL path: the rule of every id (lmrec.core.ids); nothing is stripped from a path
PathId = Annotated[
    str,
    Path(min_length=1, max_length=256, json_schema_extra={"pattern": ID_PATTERN}),
    AfterValidator(check_path_id),
]
#: reads that always name a user (a read key unless read_access is "open")
PERSONAL = [Depends(require_personal_read)]
