"""The local copy of teams a service keeps from the gateway's facts, and territory routing: one component.

The gateway owns teams (``/api/v1/teams``) and announces each change on ``crm.gateway`` with the
team's whole state (``team.created`` / ``team.updated`` / ``team.deleted``, keyed by the team id).
Customer, sales, the service desk and notifications each keep a ``known_teams`` table from them
(``KnownTeamFields``, a column set each service's table model inherits)::

    team_id PK | key (unique) | name | lead | members (JSON list) | territories (JSON list)
    | version | deleted | updated_at

* ``version`` guards the copy: a late, older state never overwrites a newer one (the topic is
  compacted, and a consumer may see a team's events again after a rebalance).
* ``team.deleted`` keeps the row, ``deleted`` set, with its version: an older ``team.updated``
  arriving afterwards does not bring the team back.

Territory routing (``route``): a team's territories are rules ``{country, region}`` on a new
customer's or lead's country (ISO 3166-1 alpha-2, compared upper-case) and region (free text,
compared case-insensitively after trimming). ``None`` in a rule matches any value; a rule with
both must match both. The most specific matching rule wins (country and region over country
alone or region alone, over a rule with neither); a tie goes to the lowest team key. No rule
matches: no team.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from alembic import op
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import Field, SQLModel, col

from tessera_shared.consumer import Handler
from tessera_shared.db import JSONType, UTCDateTime, table_of, upsert, utcnow
from tessera_shared.events import CloudEvent, EventData
from tessera_shared.events.contracts.gateway import TeamCreated, TeamDeleted, TeamState, TeamUpdated

TABLE = "known_teams"


class KnownTeamFields(SQLModel):
    """The columns of every service's ``known_teams`` table (a service's table model inherits them
    after its own base: ``class KnownTeam(Base, KnownTeamFields, table=True)``)."""

    __tablename__: ClassVar[str] = TABLE

    team_id: uuid.UUID = Field(primary_key=True)
    key: str = Field(max_length=100, index=True)
    name: str = Field(max_length=200)
    lead: str | None = Field(default=None, max_length=200)
    members: list[str] = Field(default_factory=list, sa_type=JSONType)
    territories: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSONType)
    version: int = Field(default=1)
    deleted: bool = Field(default=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


@dataclass(frozen=True, slots=True)
class Team:
    """A live team as a service reads its copy."""

    team_id: uuid.UUID
    key: str
    name: str
    lead: str | None
    members: frozenset[str]
    territories: tuple[tuple[str | None, str | None], ...]


def _country(value: str | None) -> str | None:
    return value.strip().upper() or None if value is not None else None


def _region(value: str | None) -> str | None:
    return value.strip().casefold() or None if value is not None else None


def specificity(rule: tuple[str | None, str | None], country: str | None, region: str | None) -> int | None:
    """How specifically ``rule`` (country, region) matches a record's country and region: 2 (both
    named and equal), 1 (one named and equal, the other any), 0 (a rule of neither), None (no match)."""
    want_country, want_region = _country(rule[0]), _region(rule[1])
    if want_country is not None and want_country != _country(country):
        return None
    if want_region is not None and want_region != _region(region):
        return None
    return (want_country is not None) + (want_region is not None)


def match_territory(teams: Iterable[Team], country: str | None, region: str | None) -> Team | None:
    """The team a record with ``country`` and ``region`` is routed to (see the module's rule)."""
    best: tuple[int, str] | None = None
    chosen: Team | None = None
    for team in teams:
        for rule in team.territories:
            score = specificity(rule, country, region)
            if score is None:
                continue
            rank = (-score, team.key)
            if best is None or rank < best:
                best, chosen = rank, team
    return chosen


def _team(row: KnownTeamFields) -> Team:
    return Team(
        team_id=row.team_id,
        key=row.key,
        name=row.name,
        lead=row.lead,
        members=frozenset(row.members or ()),
        territories=tuple((t.get("country"), t.get("region")) for t in row.territories or ()),
    )


class KnownTeams:
    """A service's local team copy in its table ``model``: the handlers and the lookups."""

    def __init__(self, model: type[KnownTeamFields]) -> None:
        self.model = model

    # -- team.created / team.updated / team.deleted ----------------------------------------------

    async def apply(self, session: AsyncSession, event: CloudEvent, data: EventData) -> None:
        """The team's state as announced, unless the copy already has a newer version."""
        if not isinstance(data, TeamState):
            return
        table = table_of(self.model)
        values = {
            "team_id": data.team_id,
            "key": data.key,
            "name": data.name,
            "lead": data.lead,
            "members": list(data.members),
            "territories": [t.model_dump() for t in data.territories],
            "version": data.version,
            "deleted": isinstance(data, TeamDeleted),
            "updated_at": data.updated_at,
        }
        stmt = upsert(session, table)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["team_id"],
                set_={k: stmt.excluded[k] for k in values if k != "team_id"},
                # A late, older state loses; a deletion at the same version as the last update wins.
                where=(table.c.version < stmt.excluded.version)
                | ((table.c.version == stmt.excluded.version) & stmt.excluded.deleted),
            ),
            [values],
        )

    def handlers(self) -> dict[str, Handler[EventData]]:
        """The consumer's handlers for the three team events (the service consumes ``gateway``)."""
        return {t.event_type: self.apply for t in (TeamCreated, TeamUpdated, TeamDeleted)}

    # -- lookups -----------------------------------------------------------------------------------

    async def teams(self, session: AsyncSession) -> list[Team]:
        """Every live team (teams are few: read whole)."""
        rows = (await session.scalars(select(self.model).where(col(self.model.deleted).is_(False)))).all()
        return [_team(r) for r in rows]

    async def by_key(self, session: AsyncSession, key: str) -> Team | None:
        row = (
            await session.scalars(
                select(self.model).where(col(self.model.key) == key, col(self.model.deleted).is_(False))
            )
        ).first()
        return _team(row) if row is not None else None

    async def get(self, session: AsyncSession, team_id: uuid.UUID) -> Team | None:
        row = await session.get(self.model, team_id)
        return _team(row) if row is not None and not row.deleted else None

    async def route(self, session: AsyncSession, country: str | None, region: str | None) -> uuid.UUID | None:
        """The team a new record with ``country``/``region`` belongs to by territory (None: none)."""
        team = match_territory(await self.teams(session), country, region)
        return team.team_id if team is not None else None


def create_known_teams_table() -> None:
    """The migration step that adds ``known_teams`` to a service's database."""
    Json, At = JSONType, UTCDateTime
    op.create_table(
        TABLE,
        sa.Column("team_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("lead", sa.String(length=200), nullable=True),
        sa.Column("members", Json, nullable=False),
        sa.Column("territories", Json, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("updated_at", At(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("team_id", name=op.f("pk_known_teams")),
    )
    op.create_index(op.f("ix_known_teams_key"), TABLE, ["key"], unique=False)


def drop_known_teams_table() -> None:
    op.drop_index(op.f("ix_known_teams_key"), table_name=TABLE)
    op.drop_table(TABLE)
