"""The event contract, public: every event type's JSON Schema at the URL its ``dataschema`` names.

``GET /api/v1/events/schemas`` lists the types; ``GET /api/v1/events/schemas/{type}`` is the
schema of that type's ``data`` (JSON Schema 2020-12), its ``$id`` the very URL. No token: the
schemas are public contract, what a partner validates events against. Strong ETags (a hash of
the body) and ``Cache-Control: public``; ``If-None-Match`` gets a 304.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Header, Path, Response

from tessera_shared.auth import public
from tessera_shared.events.envelope import public_gateway_url, topic_for
from tessera_shared.events.schemas import all_schemas, producer_of
from tessera_shared.http.errors import Problem

router = APIRouter(prefix="/api/v1/events/schemas", tags=["events"])

CACHE_CONTROL = "public, max-age=300"
SCHEMA_MEDIA_TYPE = "application/schema+json"


@lru_cache(maxsize=4)
def _published(base_url: str) -> tuple[dict[str, tuple[bytes, str]], tuple[bytes, str]]:
    """Per type (body, etag), and the index's; computed once per public URL."""

    def entry(value: Any) -> tuple[bytes, str]:
        body = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        return body, f'"{hashlib.sha256(body).hexdigest()[:32]}"'

    schemas = all_schemas()
    index = {
        "items": [
            {"type": t, "producer": producer_of(t), "topic": topic_for(producer_of(t)), "dataschema": s["$id"]}
            for t, s in schemas.items()
        ]
    }
    return {t: entry(s) for t, s in schemas.items()}, entry(index)


def _answer(body: bytes, etag: str, media_type: str, if_none_match: str | None) -> Response:
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if if_none_match and (if_none_match.strip() == "*" or etag in {t.strip() for t in if_none_match.split(",")}):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match", max_length=2000)]


@router.get(
    "",
    summary="Every event type, with the URL of its JSON Schema (no token needed)",
    openapi_extra=public("event schemas are public contract"),
    responses={
        200: {
            "description": "The types",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["items"],
                        "properties": {
                            "items": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["type", "producer", "topic", "dataschema"],
                                    "properties": {
                                        "type": {"type": "string"},
                                        "producer": {"type": "string"},
                                        "topic": {"type": "string"},
                                        "dataschema": {"type": "string"},
                                    },
                                },
                            }
                        },
                    }
                }
            },
        },
        304: {"description": "Not modified (If-None-Match)"},
    },
)
async def list_event_schemas(if_none_match: IfNoneMatch = None) -> Response:
    _, (body, etag) = _published(public_gateway_url())
    return _answer(body, etag, "application/json", if_none_match)


@router.get(
    "/{event_type}",
    summary="The JSON Schema of one event type's data (no token needed)",
    openapi_extra=public("event schemas are public contract"),
    responses={
        200: {
            "description": "JSON Schema 2020-12 of the event's data",
            "content": {SCHEMA_MEDIA_TYPE: {"schema": {"type": "object"}}},
        },
        304: {"description": "Not modified (If-None-Match)"},
        404: {"description": "No such event type"},
    },
)
async def get_event_schema(
    event_type: Annotated[str, Path(max_length=120, pattern=r"^[a-z0-9_.]+$")],
    if_none_match: IfNoneMatch = None,
) -> Response:
    published, _ = _published(public_gateway_url())
    if event_type not in published:
        raise Problem(404, f"no event type {event_type!r}; GET /api/v1/events/schemas lists them")
    body, etag = published[event_type]
    return _answer(body, etag, SCHEMA_MEDIA_TYPE, if_none_match)
