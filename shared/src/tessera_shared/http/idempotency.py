"""``Idempotency-Key`` for POST: a retry with the same key returns the first result.

The key row is inserted at the start of the request's transaction and completed with the
response in that same transaction, so the stored result exists exactly when the effect does.
A concurrent duplicate waits on the key's primary key and then replays the committed result.
"""

from __future__ import annotations

import hashlib
import json
from typing import Annotated, Any

import orjson
from fastapi import Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import Text, cast, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tessera_shared.auth import CurrentPrincipal, Principal
from tessera_shared.db import utcnow
from tessera_shared.deps import SessionDep
from tessera_shared.errors import InvalidInput, field_error
from tessera_shared.http.errors import Problem
from tessera_shared.infra_tables import idempotency_keys

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200


class Idempotency:
    def __init__(self, request: Request, session: AsyncSession, principal: Principal) -> None:
        self._request = request
        self._session = session
        self._principal = principal.subject
        self.key = request.headers.get(HEADER)
        if self.key is not None and not (0 < len(self.key) <= MAX_KEY_LENGTH):
            raise InvalidInput(HEADER, f"must be 1 to {MAX_KEY_LENGTH} characters", "header")

    def _hash(self, body: BaseModel | dict[str, Any] | None) -> str:
        payload = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
        body_of = [self._request.method, self._request.url.path, payload]
        try:
            raw = orjson.dumps(body_of, option=orjson.OPT_SORT_KEYS)
        except TypeError:  # free-form JSON (a batch's inputs) may hold integers past 64 bits
            raw = json.dumps(body_of, sort_keys=True, separators=(",", ":"), default=str).encode()
        return hashlib.sha256(raw).hexdigest()

    async def begin(self, body: BaseModel | dict[str, Any] | None) -> Response | None:
        """Claim the key; returns the stored response when this request was already handled."""
        if self.key is None:
            return None
        digest = self._hash(body)
        try:
            async with self._session.begin_nested():
                await self._session.execute(
                    insert(idempotency_keys).values(
                        principal=self._principal,
                        key=self.key,
                        method=self._request.method,
                        path=self._request.url.path,
                        request_hash=digest,
                        created_at=utcnow(),
                    )
                )
            return None
        except IntegrityError:
            pass
        row = (
            await self._session.execute(
                select(idempotency_keys).where(
                    idempotency_keys.c.principal == self._principal, idempotency_keys.c.key == self.key
                )
            )
        ).one()
        if row.request_hash != digest:
            raise Problem(
                422,
                f"this {HEADER} was used for a different request",
                slug="idempotency-key-reused",
                errors=[field_error(HEADER, "reused for a different request", "header")],
            )
        headers = {**(row.response_headers or {}), "Idempotent-Replayed": "true"}
        return JSONResponse(row.response_body, status_code=row.status_code, headers=headers)

    async def respond(
        self, status_code: int, body: BaseModel | dict[str, Any] | list[Any], headers: dict[str, str] | None = None
    ) -> Response:
        content = body.model_dump(mode="json") if isinstance(body, BaseModel) else body
        if self.key is not None:
            await self._session.execute(
                update(idempotency_keys)
                .where(idempotency_keys.c.principal == self._principal, idempotency_keys.c.key == self.key)
                .values(status_code=status_code, response_body=content, response_headers=headers or {})
            )
        return JSONResponse(content, status_code=status_code, headers=headers)


ERASED_REPLY = {"detail": "the customer this answer named was erased"}


async def forget_replies(session: AsyncSession, customer_id: object) -> None:
    """Stored answers that name an erased customer lose their body (it may quote names, notes,
    titles); the key stays, so a retry is still answered once, with ``ERASED_REPLY``
    (docs/domain.md §10.3)."""
    named = cast(idempotency_keys.c.response_body, Text).contains(str(customer_id))
    await session.execute(
        update(idempotency_keys)
        .where(named, idempotency_keys.c.response_body.is_not(None))
        .values(response_body=ERASED_REPLY, response_headers={})
    )


def _idempotency(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    # Declared here so that every route using IdempotencyDep documents the header (read below).
    _key: Annotated[
        str | None,
        Header(
            alias=HEADER,
            min_length=1,
            max_length=MAX_KEY_LENGTH,
            description="Any unique string of yours (e.g. a UUID): a retry with the same key returns the "
            "first answer (with `Idempotent-Replayed: true`) instead of doing the work twice; "
            "the same key with another body is a 422 `idempotency-key-reused`.",
        ),
    ] = None,
) -> Idempotency:
    return Idempotency(request, session, principal)


IdempotencyDep = Annotated[Idempotency, Depends(_idempotency)]
