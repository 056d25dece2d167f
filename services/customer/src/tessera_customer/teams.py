"""The customer service's copy of the gateway's teams (tessera_shared.teams) and territory routing.

A new customer belongs to the team a manager names (``team_id``: a live team of the copy), else to
the team whose territory matches its country and region (docs/domain.md §12), else to none.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_customer.customers.rules import may_reassign
from tessera_customer.models import Base
from tessera_shared.auth import Principal
from tessera_shared.errors import Forbidden, InvalidInput
from tessera_shared.teams import KnownTeamFields, KnownTeams, Team, match_territory


class KnownTeam(Base, KnownTeamFields, table=True):
    """The customer service's copy of a team (columns and conventions: tessera_shared.teams)."""


KNOWN_TEAMS = KnownTeams(KnownTeam)


async def team_of_new(
    session: AsyncSession,
    principal: Principal,
    requested: uuid.UUID | None,
    country: str | None,
    region: str | None,
    *,
    teams: Sequence[Team] | None = None,
) -> uuid.UUID | None:
    """The team of a new record: the one a manager names, else the territory's (None: no team).
    ``teams``: the live teams read once for many records (a batch upsert, an import's batch)."""
    if requested is not None:
        if not may_reassign(principal):
            raise Forbidden("only a manager or an admin may put a new customer in a team")
        if await KNOWN_TEAMS.get(session, requested) is None:
            raise InvalidInput("team_id", "no such team")
        return requested
    if teams is not None:
        team = match_territory(teams, country, region)
        return team.team_id if team is not None else None
    return await KNOWN_TEAMS.route(session, country, region)
