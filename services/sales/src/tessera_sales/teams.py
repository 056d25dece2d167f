"""Sales' copy of the gateway's teams (tessera_shared.teams) and territory routing of new leads.

A new lead belongs to the team a manager names (``team_id``: a live team of the copy), else to the
team whose territory matches the lead's country and region (docs/domain.md §12), else to none. A
deal made from a lead (conversion) belongs to the lead's team.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from tessera_sales.models import Base
from tessera_sales.ownership import MANAGERS, is_manager
from tessera_shared.auth import Principal
from tessera_shared.errors import Forbidden, InvalidInput
from tessera_shared.teams import KnownTeamFields, KnownTeams, Team, match_territory


class KnownTeam(Base, KnownTeamFields, table=True):
    """Sales' copy of a team (columns and conventions: tessera_shared.teams)."""


KNOWN_TEAMS = KnownTeams(KnownTeam)


async def team_of_new(
    session: AsyncSession,
    principal: Principal,
    requested: uuid.UUID | None,
    country: str | None,
    region: str | None,
    *,
    teams: list[Team] | None = None,
) -> uuid.UUID | None:
    """The team of a new lead: the one a manager names, else the territory's (None: no team);
    ``teams``: the live teams already read (a batch reads them once)."""
    if requested is not None:
        if not is_manager(principal):
            raise Forbidden("only a sales manager may put a record in a team", required_roles=sorted(MANAGERS))
        if await KNOWN_TEAMS.get(session, requested) is None:
            raise InvalidInput("team_id", "no such team")
        return requested
    if teams is None:
        return await KNOWN_TEAMS.route(session, country, region)
    team = match_territory(teams, country, region)
    return team.team_id if team is not None else None
