"""Ticket groups are teams: the gateway's teams reach notifications (team.* on crm.gateway, kept in
known_teams) and a group's lead, as the gateway names it, is told of an SLA breach of the group's
ticket beside the configured directory's leads; a deleted team's lead no longer is."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from notifications_helpers import deliver, user

from tessera_shared.events.contracts import SlaBreached, TicketChanges, TicketOpened, TicketUpdated
from tessera_shared.events.contracts.gateway import TeamCreated, TeamDeleted

pytestmark = pytest.mark.sqlite


def team(cls: type[TeamCreated] | type[TeamDeleted], team_id: uuid.UUID, version: int) -> TeamCreated | TeamDeleted:
    return cls(
        team_id=team_id,
        key="emea-support",
        name="EMEA support",
        lead="boss1",
        members=["boss1", "agent9"],
        version=version,
        updated_at=datetime.now(UTC),
    )


async def breach(app, ticket_id: uuid.UUID, customer_id: uuid.UUID) -> None:
    now = datetime.now(UTC)
    await deliver(
        app,
        SlaBreached(
            ticket_id=ticket_id,
            customer_id=customer_id,
            metric="first_response",
            priority="high",
            due_at=now - timedelta(minutes=1),
            breached_at=now,
        ),
        subject=customer_id,
    )


async def test_the_groups_lead_from_the_gateways_teams_is_told(app, client) -> None:
    ticket_id, customer_id, team_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    await deliver(app, team(TeamCreated, team_id, 1), subject=team_id)
    await deliver(
        app,
        TicketOpened(
            ticket_id=ticket_id,
            customer_id=customer_id,
            subject="Broken",
            channel="email",
            category="fault",
            priority="high",
            opened_at=now,
        ),
        subject=customer_id,
    )
    await deliver(
        app,
        TicketUpdated(
            ticket_id=ticket_id,
            customer_id=customer_id,
            changes=TicketChanges(group="emea-support"),
            version=2,
            updated_by="agent",
            updated_at=now,
        ),
        subject=customer_id,
    )
    await breach(app, ticket_id, customer_id)
    boss = (await client.get("/v1/notifications", headers=user(app, "boss1", "support_agent"))).json()["items"]
    assert [n["type"] for n in boss] == ["sla.breached"]

    await deliver(app, team(TeamDeleted, team_id, 2), subject=team_id)
    await breach(app, ticket_id, customer_id)
    boss = (await client.get("/v1/notifications", headers=user(app, "boss1", "support_agent"))).json()["items"]
    assert len(boss) == 1
