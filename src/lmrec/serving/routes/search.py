"""POST /v1/search: natural-language search over a content model's item embeddings."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request

from lmrec.search import search as search_items
from lmrec.serving.auth import check_personal_read
from lmrec.serving.explain import history_indices
from lmrec.serving.item_fields import check_fields, fields_of
from lmrec.serving.limits import check_k
from lmrec.serving.routes.deps import READ, Ctx
from lmrec.serving.routes.problem_docs import problem_responses
from lmrec.serving.schemas import ScoredItem, SearchRequest, SearchResponse

router = APIRouter(prefix="/v1", tags=["search"], dependencies=READ)


@router.post("/search", response_model=SearchResponse, responses=problem_responses(404))
def search(ctx: Ctx, request: Request, body: SearchRequest) -> SearchResponse:
    """Items matching the query text; with a user_id, the order leans toward the user's
    history, or with `blend` > 0 mixes in the model's own scores for the user. 503 when no
    live model can embed text. With a user_id it needs a read key (unless the server's
    read_access is "open")."""
    if body.user_id is not None:
        check_personal_read(request)
    check_k(ctx.settings, body.k, ("body",))
    live = ctx.search_model(body.model)
    check_fields(live, body.fields, ("body", "fields"))
    model = live.model
    history: list[str] = []
    if body.user_id is not None:
        assert model.item_map is not None
        known = history_indices(live, body.user_id, ctx.fresh_history(body.user_id))
        history = model.item_map.to_ids(known).tolist()
    # the model scores a user it was trained on by id; anyone else by the history alone
    trained_user = model.user_map is not None and body.user_id in model.user_map
    allowed = live.filters.mask(body.filters) if body.filters else None
    recs = search_items(
        model,
        body.query,
        body.k,
        history=history,
        exclude=body.exclude,
        allowed=allowed,
        index=live.search_index(),
        user_id=body.user_id if trained_user else None,
        blend=body.blend,
        query_vector=ctx.query_vectors.vector(live, body.query),
    )
    values = fields_of(live, recs.item_ids, body.fields) if body.fields else None
    return SearchResponse(
        query=body.query,
        items=[
            ScoredItem(item_id=i, score=s, fields=values[n] if values else None)
            for n, (i, s) in enumerate(zip(recs.item_ids, recs.scores, strict=True))
        ],
        model=live.name,
        version=live.version,
        request_id=uuid.uuid4().hex,
    )
