from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel

from tessera_notifications.api import settings_of
from tessera_notifications.email.service import page
from tessera_notifications.email.unsubscribe import Purpose, check_token, opted_out, unsubscribe
from tessera_shared.auth import public
from tessera_shared.deps import SessionDep
from tessera_shared.http.pages import html_page, html_too, wants_html

router = APIRouter(prefix="/v1/email-unsubscribe", tags=["email-unsubscribe"])

PUBLIC = public("an unsubscribe link in a customer's e-mail: its token is the credential")
Token = Annotated[str, Query(min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$")]
HTML_TOO = html_too("JSON, or a page for a browser")


class Unsubscribed(BaseModel):
    customer_id: uuid.UUID
    purpose: str
    unsubscribed: bool = True


def _answer(request: Request, customer_id: uuid.UUID, purpose: str, unsubscribed: bool) -> Unsubscribed | HTMLResponse:
    """JSON for an API client; a page in the customers' language for a browser (Accept: text/html)."""
    if wants_html(request):
        return html_page(page("unsubscribe_page", settings_of(request).customer_locale, {"unsubscribed": unsubscribed}))
    return Unsubscribed(customer_id=customer_id, purpose=purpose, unsubscribed=unsubscribed)


@router.get(
    "/{customer_id}/{purpose}",
    response_model=Unsubscribed,
    responses=HTML_TOO,
    summary="The unsubscribe link in an e-mail: tells whether the customer is unsubscribed and, to a "
    "browser, offers the button that POSTs; a GET changes nothing (mail scanners fetch links, RFC 8058)",
    openapi_extra=PUBLIC,
)
async def unsubscribe_by_link(
    customer_id: uuid.UUID,
    purpose: Annotated[Purpose, Path()],
    token: Token,
    request: Request,
    session: SessionDep,
) -> Any:
    check_token(settings_of(request), customer_id, purpose, token)
    return _answer(request, customer_id, purpose, await opted_out(session, customer_id, purpose))


@router.post(
    "/{customer_id}/{purpose}",
    response_model=Unsubscribed,
    responses=HTML_TOO,
    summary="Unsubscribe: one click (RFC 8058 List-Unsubscribe-Post) or the link's page's button",
    openapi_extra=PUBLIC,
)
async def unsubscribe_one_click(
    customer_id: uuid.UUID,
    purpose: Annotated[Purpose, Path()],
    token: Token,
    request: Request,
    session: SessionDep,
) -> Any:
    check_token(settings_of(request), customer_id, purpose, token)
    await unsubscribe(session, customer_id, purpose)
    return _answer(request, customer_id, purpose, True)
