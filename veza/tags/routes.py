"""/tags/suggest: autocomplete for tag fields."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel, Field

from veza.http import endpoint, ok
from veza.keys import DB
from veza.tags import queries
from veza.tags.normalize import normalize_tag

routes = web.RouteTableDef()


class SuggestQuery(BaseModel):
    q: str = Field(min_length=1, max_length=50)
    limit: int = Field(10, ge=1, le=50)


class Suggestions(BaseModel):
    suggestions: list[str]


@routes.get("/tags/suggest")
@endpoint(
    "Tag suggestions: prefix matches by usage, then similar tags",
    query=SuggestQuery,
    response=Suggestions,
    auth="user",
    tags=["tags"],
)
async def suggest(request: web.Request, query: SuggestQuery) -> web.Response:
    prefix = normalize_tag(query.q)
    names = await queries.suggest(request.app[DB], prefix, query.limit) if prefix else []
    return ok({"suggestions": names})
