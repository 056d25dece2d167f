"""A plain ``GET <collection>/{id}`` answered before FastAPI's router (issue 25, item 3).

Matching a path against a service's ~50 routes, solving the route's dependencies (the bearer
scheme, the principal, the role check, the query check, the session) and the exception layers
cost a GET by id more CPU than its read. A service names such a route once
(``ServiceSpec.fast_reads``: the route's template, its readers' roles, a ``read`` function) and
``FastReads``, the innermost of the shared middleware (so the request id, trace context,
metrics, edge guard and the rest run as for any request), serves a GET of that template with
no query string itself: the principal from ``principal_from_request`` (the same cached
verification, revocation, API keys and team scope), the role check of ``require_roles``, then
``read``. Everything else goes the general way, which stays the reference: another method, a
query string (``?fields=``, an unknown parameter), an id not in the canonical form, no token
or one refused, a role that may not read, and whatever ``read`` declines (returns None: a
missing record, a merged one) or fails with; the route then answers as it always did (the same
401, 403, 404, 422 or 503). ``read`` must answer what the route answers for the same record
(its tests compare them) and must not have side effects before it is sure to answer. The
trade: a read that fails only after waiting (a pool exhausted for its timeout, a database that
does not answer) is waited for twice, once here and once by the route, before the route's 503.

Off with ``<PREFIX>FAST_READS=false`` (every GET then goes through the router).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import routing
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from tessera_shared.auth import Principal, Role, principal_from_request

log = logging.getLogger(__name__)
_HYPHENS = (8, 13, 18, 23)


@dataclass(eq=False)
class FastRead:
    """One route served fast: ``path`` its template (``/v1/customers/{customer_id}``, one trailing
    id parameter; the route the router picks for such a path: no earlier route may take it),
    ``roles`` those that may read it (an admin always may), ``read`` the answer of a record
    (None: let the route answer)."""

    path: str
    roles: Iterable[str]
    read: Callable[[Request, uuid.UUID, Principal], Awaitable[Response | None]]
    served: int = field(default=0, compare=False)  # answers given here (tests and debugging read it)

    @property
    def prefix(self) -> str:
        return self.path.rsplit("/", 1)[0] + "/"

    @property
    def parameter(self) -> str:
        return self.path.rsplit("/", 1)[1].strip("{}")


def canonical_uuid(text: str) -> uuid.UUID | None:
    """``text`` as a UUID when it is one in the 8-4-4-4-12 form (either case); other spellings
    uuid.UUID or the route would also read go the general way."""
    if len(text) != 36 or any(text[i] != "-" for i in _HYPHENS):
        return None
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


class FastReads:
    """Pure ASGI; the innermost of the shared middleware (see the module's docstring)."""

    def __init__(self, app: ASGIApp, reads: Sequence[FastRead] = ()) -> None:
        self.app = app
        self.by_prefix = {r.prefix: (r, frozenset(r.roles) | {Role.ADMIN}) for r in reads}
        self.routes: dict[str, Any] | None = None  # template -> the APIRoute, found at the first request

    def _route(self, app: Any, template: str) -> Any:
        if self.routes is None:
            found: dict[str, Any] = {}
            for context in routing.iter_route_contexts(app.routes):
                route = context.original_route
                if isinstance(route, APIRoute) and "GET" in (route.methods or ()) and context.path_format:
                    found.setdefault(context.path_format, route)
            self.routes = found
        return self.routes.get(template)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or scope.get("query_string") or scope.get("root_path"):
            await self.app(scope, receive, send)
            return
        prefix, _, last = scope["path"].rpartition("/")
        entry = self.by_prefix.get(prefix + "/")
        record_id = canonical_uuid(last) if entry is not None else None
        if entry is None or record_id is None:
            await self.app(scope, receive, send)
            return
        fast, allowed = entry
        route = self._route(scope["app"], fast.path)
        response: Response | None = None
        if route is not None:
            request = Request(scope, receive)
            try:
                principal = await principal_from_request(request)
                if principal.may(allowed):
                    response = await fast.read(request, record_id, principal)
            except Exception:  # the general way answers it (the same problem, or the same error)
                log.debug("fast read of %s left to the route", scope["path"], exc_info=True)
                response = None
        if response is None:
            await self.app(scope, receive, send)
            return
        fast.served += 1
        # What routing would have put in the scope: the route template labels the metrics, the
        # span and X-Tessera-Route.
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        scope["path_params"] = {fast.parameter: last}
        await response(scope, receive, send)
