"""``/v1/webhooks``: endpoints (a partner its own, an admin all), their deliveries, redelivery,
test deliveries, secret rotation and replays."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Path, Request, Response

from tessera_notifications.api import settings_of
from tessera_notifications.webhooks.deliveries import (
    described,
    enqueue_test,
    find_delivery,
    page_of_deliveries,
    redeliver,
)
from tessera_notifications.webhooks.endpoints import (
    change_endpoint,
    create_endpoint,
    delete_endpoint,
    find_endpoint,
    page_of_endpoints,
    rotate_secret,
)
from tessera_notifications.webhooks.replay import find_replay, run_replay, start_replay
from tessera_notifications.webhooks.schemas import (
    DeliveryOut,
    EndpointChange,
    EndpointCreate,
    EndpointOut,
    EndpointWithSecret,
    ReplayIn,
    ReplayOut,
    SecretOut,
)
from tessera_shared.auth import Principal, Role, require_roles
from tessera_shared.db.types import BIGINT_MAX
from tessera_shared.deps import SessionDep
from tessera_shared.errors import NotFound
from tessera_shared.http.etag import check_if_match, etag_for
from tessera_shared.http.pagination import Page, PageQuery

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

Manager = Annotated[Principal, require_roles(Role.PARTNER, Role.ADMIN)]
ENDPOINTS = "/v1/webhooks/endpoints"


@router.get("/endpoints", response_model=Page[EndpointOut], summary="Webhook endpoints (a partner's own; admin: all)")
async def list_webhook_endpoints(session: SessionDep, page: PageQuery, principal: Manager) -> Page[EndpointOut]:
    rows, next_cursor = await page_of_endpoints(session, principal, page)
    return Page[EndpointOut](items=[EndpointOut.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/endpoints",
    status_code=201,
    response_model=EndpointWithSecret,
    summary="Register a webhook endpoint (the signing secret is shown only in this answer)",
)
async def add_webhook_endpoint(
    body: EndpointCreate, request: Request, session: SessionDep, response: Response, principal: Manager
) -> EndpointWithSecret:
    endpoint = await create_endpoint(session, principal, body, settings_of(request))
    response.headers["Location"] = f"{ENDPOINTS}/{endpoint.id}"
    response.headers["ETag"] = etag_for(endpoint.id, endpoint.version)
    return EndpointWithSecret.model_validate(
        {**EndpointOut.model_validate(endpoint).model_dump(), "secret": endpoint.secret}
    )


@router.get("/endpoints/{endpoint_id}", response_model=EndpointOut, summary="One webhook endpoint")
async def get_webhook_endpoint(
    endpoint_id: uuid.UUID, session: SessionDep, response: Response, principal: Manager
) -> EndpointOut:
    endpoint = await find_endpoint(session, endpoint_id, principal)
    response.headers["ETag"] = etag_for(endpoint.id, endpoint.version)
    return EndpointOut.model_validate(endpoint)


@router.patch(
    "/endpoints/{endpoint_id}", response_model=EndpointOut, summary="Change a webhook endpoint (If-Match optional)"
)
async def change_webhook_endpoint(
    endpoint_id: uuid.UUID,
    body: EndpointChange,
    request: Request,
    session: SessionDep,
    response: Response,
    principal: Manager,
) -> EndpointOut:
    endpoint = await find_endpoint(session, endpoint_id, principal, for_update=True)
    check_if_match(request, endpoint.id, endpoint.version)
    endpoint = await change_endpoint(session, endpoint, body, settings_of(request))
    response.headers["ETag"] = etag_for(endpoint.id, endpoint.version)
    return EndpointOut.model_validate(endpoint)


@router.delete("/endpoints/{endpoint_id}", status_code=204, summary="Remove a webhook endpoint and its deliveries")
async def remove_webhook_endpoint(
    endpoint_id: uuid.UUID, request: Request, session: SessionDep, principal: Manager
) -> Response:
    endpoint = await find_endpoint(session, endpoint_id, principal, for_update=True)
    check_if_match(request, endpoint.id, endpoint.version)
    await delete_endpoint(session, endpoint)
    return Response(status_code=204)


@router.post(
    "/endpoints/{endpoint_id}/rotate-secret",
    response_model=SecretOut,
    summary="A new signing secret (the previous one also signs for 24 h: two v1 signatures)",
)
async def rotate_webhook_secret(
    endpoint_id: uuid.UUID, request: Request, session: SessionDep, response: Response, principal: Manager
) -> SecretOut:
    endpoint = await find_endpoint(session, endpoint_id, principal, for_update=True)
    await rotate_secret(session, endpoint, settings_of(request))
    response.headers["ETag"] = etag_for(endpoint.id, endpoint.version)
    assert endpoint.previous_secret_until is not None  # noqa: S101 - set by rotate_secret
    return SecretOut(secret=endpoint.secret, previous_secret_expires_at=endpoint.previous_secret_until)


@router.post(
    "/endpoints/{endpoint_id}/test",
    status_code=202,
    response_model=DeliveryOut,
    summary="Send a webhook.test delivery to the endpoint",
)
async def test_webhook_endpoint(endpoint_id: uuid.UUID, session: SessionDep, principal: Manager) -> DeliveryOut:
    endpoint = await find_endpoint(session, endpoint_id, principal)
    delivery = await enqueue_test(session, endpoint)
    return (await described(session, [delivery]))[0]


@router.get(
    "/endpoints/{endpoint_id}/deliveries",
    response_model=Page[DeliveryOut],
    summary="The endpoint's deliveries, newest first, with their attempts (cursor pagination)",
)
async def list_webhook_deliveries(
    endpoint_id: uuid.UUID, session: SessionDep, page: PageQuery, principal: Manager
) -> Page[DeliveryOut]:
    await find_endpoint(session, endpoint_id, principal)
    items, next_cursor = await page_of_deliveries(session, endpoint_id, page)
    return Page[DeliveryOut](items=items, next_cursor=next_cursor)


# A delivery's id is a 64-bit integer: a larger number is a 422 naming it, not a database error.
DeliveryId = Annotated[int, Path(ge=1, le=BIGINT_MAX, description="The delivery's id")]


@router.post(
    "/deliveries/{delivery_id}/redeliver",
    status_code=202,
    response_model=DeliveryOut,
    summary="Send a delivery again (the same webhook-id)",
)
async def redeliver_webhook(delivery_id: DeliveryId, session: SessionDep, principal: Manager) -> DeliveryOut:
    delivery = await find_delivery(session, delivery_id, for_update=True)
    try:
        await find_endpoint(session, delivery.endpoint_id, principal)
    except NotFound:
        raise NotFound("webhook delivery", delivery_id) from None
    await redeliver(session, delivery)
    return (await described(session, [delivery]))[0]


@router.post(
    "/endpoints/{endpoint_id}/replay",
    status_code=202,
    response_model=ReplayOut,
    summary="Re-deliver every matching event since a time (a job; within the topics' retention)",
)
async def replay_webhooks(
    endpoint_id: uuid.UUID,
    body: ReplayIn,
    request: Request,
    session: SessionDep,
    response: Response,
    background: BackgroundTasks,
    principal: Manager,
) -> ReplayOut:
    endpoint = await find_endpoint(session, endpoint_id, principal)
    replay = await start_replay(session, endpoint, body.since)
    engine = request.app.state.webhooks
    # After the response, so after the commit: the job reads its row.
    background.add_task(engine.spawn, run_replay(engine.sessions, settings_of(request), replay.id))
    response.headers["Location"] = f"{ENDPOINTS}/{endpoint_id}/replays/{replay.id}"
    return ReplayOut.model_validate(replay)


@router.get(
    "/endpoints/{endpoint_id}/replays/{replay_id}", response_model=ReplayOut, summary="A replay job and how far it got"
)
async def get_webhook_replay(
    endpoint_id: uuid.UUID, replay_id: uuid.UUID, session: SessionDep, principal: Manager
) -> ReplayOut:
    await find_endpoint(session, endpoint_id, principal)
    return ReplayOut.model_validate(await find_replay(session, endpoint_id, replay_id))
