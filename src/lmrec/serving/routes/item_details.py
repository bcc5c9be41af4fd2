"""GET /v1/items/{item_id}: what the service knows about one item."""

from __future__ import annotations

from fastapi import APIRouter

from lmrec.errors import UnknownIdError
from lmrec.serving.item_fields import row_fields
from lmrec.serving.live import LiveModel
from lmrec.serving.routes.deps import READ, Ctx, PathId
from lmrec.serving.routes.problem_docs import problem_responses
from lmrec.serving.schemas import CatalogueItem, ItemResponse

router = APIRouter(prefix="/v1/items", tags=["items"], dependencies=READ)


@router.get("/{item_id}", response_model=ItemResponse, responses=problem_responses(404))
def item_details(
    ctx: Ctx,
    item_id: PathId,
    model: str | None = None,
) -> ItemResponse:
    """The item's fields from a model's item table (the named model, else the default
    one, else the first live model that knows the item), the live models that can
    recommend it, and its catalogue entry when it was added through POST /v1/items.
    404 when neither a live model nor the catalogue knows the id."""
    lives = ctx.hub.snapshot()
    known_to = sorted(name for name, live in lives.items() if live.knows_item(item_id))
    stored = ctx.store.item_row(item_id)
    if not known_to and stored is None:
        raise UnknownIdError(f"unknown item id {item_id!r}")
    source = _table_source(ctx, model, known_to, lives)
    fields = {}
    if source is not None and source.model.items is not None:
        assert source.model.item_map is not None
        index = source.model.item_map.index_of(item_id)
        if index < len(source.model.items):
            fields = row_fields(source.model.items, index)
    return ItemResponse(
        item_id=item_id,
        fields=fields,
        model=source.name if source is not None else None,
        known_to=known_to,
        catalogue=CatalogueItem.model_validate(stored) if stored is not None else None,
    )


def _table_source(
    ctx: Ctx, model: str | None, known_to: list[str], lives: dict[str, LiveModel]
) -> LiveModel | None:
    if model is not None:
        live = ctx.hub.get(model)  # 404 for a name that is not live
        return live if live.name in known_to else None
    default = ctx.hub.default.name
    if default is not None and default in known_to:
        return lives[default]
    return lives[known_to[0]] if known_to else None
