"""Notifications' copy of the gateway's teams (tessera_shared.teams): who is in a team, who leads it.

Routing's ``team`` and ``team_lead`` recipients (a ticket's group names a team by its key) are the
configured directory's (``users_json``: ``teams``, ``lead_of``) together with the teams the gateway
announces: members and lead of the live team with that key.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_notifications.models import Base
from tessera_shared.teams import KnownTeamFields, KnownTeams


class KnownTeam(Base, KnownTeamFields, table=True):
    """Notifications' copy of a team (columns and conventions: tessera_shared.teams)."""


KNOWN_TEAMS = KnownTeams(KnownTeam)


async def members_of(session: AsyncSession, key: str) -> list[str]:
    team = await KNOWN_TEAMS.by_key(session, key)
    return sorted(team.members) if team is not None else []


async def lead_of(session: AsyncSession, key: str) -> list[str]:
    team = await KNOWN_TEAMS.by_key(session, key)
    return [team.lead] if team is not None and team.lead else []
