"""``GET /v1/customers/{id}``'s answer from the customer's row: the route and the fast read share it.

The route (``customers/router.py``) keeps ``CustomerOut`` as its response model for the OpenAPI
document and answers with these bytes; the fast read (``tessera_shared.http.fast_read``) serves
a plain GET of a live customer with the same bytes and headers before FastAPI's router, and
leaves every other case (no or a refused token, a query string, a missing or merged customer,
an error) to the route.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import Request, Response

from tessera_customer.api import READERS, audit_read
from tessera_customer.customers.answer import customer_answer
from tessera_customer.customers.repository import live_customer_row_direct
from tessera_shared.auth import Principal
from tessera_shared.http.etag import etag_for
from tessera_shared.http.fast_read import FastRead


def customer_response(request: Request, row: Sequence[Any], principal: Principal) -> Response:
    """The 200 of a live customer's row (OUT_COLUMNS): the read audited, its ETag set."""
    customer_id, version = row[0], row[-1]
    body = customer_answer(row)
    audit_read(request, customer_id, principal, "read")
    response = Response(body, media_type="application/json")
    response.headers["ETag"] = etag_for(customer_id, version)  # after content-type, as FastAPI put it
    return response


async def fast_get(request: Request, customer_id: uuid.UUID, principal: Principal) -> Response | None:
    row = await live_customer_row_direct(request.app.state.runtime.sessions, customer_id)
    return None if row is None else customer_response(request, row, principal)


FAST_GET = FastRead(path="/v1/customers/{customer_id}", roles=READERS, read=fast_get)
