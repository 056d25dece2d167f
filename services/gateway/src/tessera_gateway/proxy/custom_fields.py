"""``/api/v1/custom-fields`` (issue 24 part 2): each entity's custom fields are kept by the
service owning the entity (``CUSTOM_FIELD_OWNERS``: customer and contact → customer, deal and
lead → sales, ticket → service desk).

- ``POST /custom-fields`` goes to the owner of the body's ``entity`` (an unknown or missing
  entity to sales, whose 422 names ``entity``);
- ``/custom-fields/{entity}.{key}`` to the owner of the id's entity (``routes.owner_of``);
- ``GET /custom-fields?entity=X`` to X's owner; without ``entity`` the gateway asks the three
  owners and answers their definitions as one list. A service that does not serve custom fields
  (404) has none; a refused request (401, 403, 422) is answered as the service refused it; one
  that fails makes the whole answer fail (502/503/504 naming it), as a list missing some
  entities' fields would look complete.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from fastapi import Request
from fastapi.responses import Response

from tessera_shared.events.contracts.custom_fields import CUSTOM_FIELD_OWNERS
from tessera_shared.http.errors import Problem

PATH = "custom-fields"
DEFAULT_OWNER = "sales"
# The owners in the order their definitions are listed (the entities' order in CUSTOM_FIELD_OWNERS).
OWNERS: tuple[str, ...] = tuple(dict.fromkeys(CUSTOM_FIELD_OWNERS.values()))

Forward = Callable[[Request, str, str], Awaitable[Response]]


def owner_of_body(body: bytes) -> str:
    """The service a ``POST /custom-fields`` body goes to, by its ``entity``."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return DEFAULT_OWNER
    entity = data.get("entity") if isinstance(data, dict) else None
    return CUSTOM_FIELD_OWNERS.get(entity, DEFAULT_OWNER) if isinstance(entity, str) else DEFAULT_OWNER


def owner_of_entity(entity: str | None) -> str | None:
    """The owner of ``?entity=`` (None without one: every owner is asked)."""
    if entity is None:
        return None
    return CUSTOM_FIELD_OWNERS.get(entity, DEFAULT_OWNER)


async def merged_list(request: Request, forward: Forward) -> Response:
    """The definitions of every entity, from the three owners at once."""
    answers = await asyncio.gather(*(forward(request, service, PATH) for service in OWNERS))
    items: list[Any] = []
    for service, answer in zip(OWNERS, answers, strict=True):
        if answer.status_code == 404:
            continue  # a service that keeps no custom fields (yet)
        if 400 <= answer.status_code < 500:
            return answer  # the request refused (401, 403, a 422 naming an unknown parameter): the client's to mend
        if answer.status_code != 200:
            raise Problem(
                502,
                f"the {service} service failed to list its custom fields ({answer.status_code})",
                slug="upstream-error",
                service=service,
            )
        items += orjson.loads(answer.body).get("items", [])
    return Response(orjson.dumps({"items": items}), media_type="application/json")
