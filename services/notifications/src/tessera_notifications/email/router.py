from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from tessera_notifications.api import settings_of
from tessera_notifications.email.unsubscribe import Purpose, check_token, opt_out
from tessera_shared.auth import public
from tessera_shared.deps import SessionDep, WriteSessionDep

router = APIRouter(prefix="/v1/email-unsubscribe", tags=["email-unsubscribe"])

PUBLIC = public("an unsubscribe link in a customer's e-mail: its token is the credential")
Token = Annotated[str, Query(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$")]


class Unsubscribed(BaseModel):
    customer_id: uuid.UUID
    purpose: str
    unsubscribed: bool = True


@router.get(
    "/{customer_id}/{purpose}",
    response_model=Unsubscribed,
    summary="Unsubscribe from a purpose's e-mails (the link in the e-mail; no account needed)",
    openapi_extra=PUBLIC,
)
async def unsubscribe_by_link(
    customer_id: uuid.UUID,
    purpose: Annotated[Purpose, Path()],
    token: Token,
    request: Request,
    session: WriteSessionDep,
) -> Unsubscribed:
    check_token(settings_of(request), customer_id, purpose, token)
    await opt_out(session, customer_id, purpose)
    return Unsubscribed(customer_id=customer_id, purpose=purpose)


@router.post(
    "/{customer_id}/{purpose}",
    response_model=Unsubscribed,
    summary="Unsubscribe in one click (RFC 8058 List-Unsubscribe-Post)",
    openapi_extra=PUBLIC,
)
async def unsubscribe_one_click(
    customer_id: uuid.UUID,
    purpose: Annotated[Purpose, Path()],
    token: Token,
    request: Request,
    session: SessionDep,
) -> Unsubscribed:
    check_token(settings_of(request), customer_id, purpose, token)
    await opt_out(session, customer_id, purpose)
    return Unsubscribed(customer_id=customer_id, purpose=purpose)
