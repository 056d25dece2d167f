"""``/api/v1/teams``: every staff role reads; admins and sales managers create, change and delete."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt

from tessera_gateway.audit import service as audit
from tessera_gateway.models import Team
from tessera_gateway.teams import service
from tessera_gateway.teams.scope import TeamScopes
from tessera_shared.auth import STAFF_ROLES, Principal, Role, require_roles
from tessera_shared.deps import SessionDep
from tessera_shared.events.contracts.gateway import TeamTerritory
from tessera_shared.http.inputs import Trim
from tessera_shared.http.pagination import Page, PageQuery

router = APIRouter(prefix="/api/v1/teams", tags=["teams"])

Staff = Annotated[Principal, require_roles(*STAFF_ROLES)]
Manager = Annotated[Principal, require_roles(Role.SALES_MANAGER)]
Username = Annotated[str, Trim(min_length=1, max_length=200)]


class Territory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    country: Annotated[str, Trim(min_length=2, max_length=2)] | None = Field(
        default=None, description="ISO 3166-1 alpha-2; null: any country"
    )
    region: Annotated[str, Trim(min_length=1, max_length=200)] | None = Field(
        default=None, description="null: any region"
    )

    def contract(self) -> TeamTerritory:
        return TeamTerritory(country=self.country, region=self.region)


class TeamIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Annotated[str, Trim(min_length=1, max_length=100)] | None = Field(
        default=None, description="A slug, unique (e.g. sales-north); left out: made from the name"
    )
    name: Annotated[str, Trim(min_length=1, max_length=200)]
    lead: Username | None = Field(default=None, description="A user account; a member too")
    members: list[Username] = Field(default_factory=list, max_length=service.MAX_MEMBERS)
    territories: list[Territory] = Field(default_factory=list, max_length=100)
    description: Annotated[str, Trim(max_length=2000)] | None = None


class TeamPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Trim(min_length=1, max_length=200)] | None = None
    lead: Username | None = None
    members: list[Username] | None = Field(default=None, max_length=service.MAX_MEMBERS)
    territories: list[Territory] | None = Field(default=None, max_length=100)
    description: Annotated[str, Trim(max_length=2000)] | None = None
    version: StrictInt | None = Field(default=None, description="The version you changed (409 when it moved on)")


class TeamOut(BaseModel):
    id: uuid.UUID
    key: str
    name: str
    lead: str | None
    members: list[str] = Field(description="Usernames, the lead included")
    territories: list[Territory]
    description: str | None
    version: int
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: Team) -> TeamOut:
        return cls(
            id=row.id,
            key=row.key,
            name=row.name,
            lead=row.lead,
            members=list(row.members),
            territories=[Territory(**t) for t in row.territories],
            description=row.description,
            version=row.version,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


def _changed(request: Request, session: SessionDep, principal: Principal, method: str, path: str, status: int) -> None:
    scopes: TeamScopes | None = getattr(request.app.state, "team_scopes", None)
    if scopes is not None:
        scopes.forget_on_commit(session)
    audit.record(request.app.state.runtime, principal, method, path, status)


@router.get("", response_model=Page[TeamOut], summary="List teams (by key)")
async def list_teams(
    session: SessionDep,
    page: PageQuery,
    _: Staff,
    lead: Annotated[str | None, Query(max_length=200, description="Only the teams this user leads")] = None,
) -> Page[TeamOut]:
    rows, cursor = await service.list_teams(session, page, lead=lead)
    return Page[TeamOut](items=[TeamOut.of(r) for r in rows], next_cursor=cursor)


@router.post(
    "",
    status_code=201,
    response_model=TeamOut,
    summary="Create a team",
    description="Lead and members must be user accounts (422 naming `lead` or `members[i]`); the lead is a "
    "member. The lead sees and changes the members' customers, leads and deals from their next request. "
    "Publishes `team.created`.",
)
async def create_team(request: Request, session: SessionDep, body: TeamIn, principal: Manager) -> JSONResponse:
    row = await service.create_team(
        session,
        principal,
        request.app.state.accounts,
        key=body.key,
        name=body.name,
        lead=body.lead,
        members=body.members,
        territories=[t.contract() for t in body.territories],
        description=body.description,
    )
    _changed(request, session, principal, "POST", "teams", 201)
    return JSONResponse(
        TeamOut.of(row).model_dump(mode="json"), status_code=201, headers={"Location": f"/api/v1/teams/{row.id}"}
    )


TeamRef = Annotated[str, Path(min_length=1, max_length=100, description="The team's id or key")]


@router.get("/{team_id}", response_model=TeamOut, summary="A team (by id or key)")
async def get_team(team_id: TeamRef, session: SessionDep, _: Staff) -> TeamOut:
    return TeamOut.of(await service.get_team(session, team_id))


@router.patch(
    "/{team_id}",
    response_model=TeamOut,
    summary="Change a team's name, lead, members or territories",
    description="Fields left out stay. Publishes `team.updated` when something changed.",
)
async def update_team(
    team_id: TeamRef, request: Request, session: SessionDep, body: TeamPatch, principal: Manager
) -> TeamOut:
    changes = body.model_dump(exclude_unset=True, exclude={"version"})
    for name in ("name", "members", "territories"):
        if name in changes and changes[name] is None:
            changes.pop(name)
    if body.territories is not None:
        changes["territories"] = [t.contract() for t in body.territories]
    row = await service.update_team(
        session, request.app.state.accounts, team_id, changes, expected_version=body.version
    )
    _changed(request, session, principal, "PATCH", f"teams/{team_id}", 200)
    return TeamOut.of(row)


@router.delete(
    "/{team_id}",
    status_code=204,
    summary="Delete a team",
    description="Its members stay; its lead no longer sees their records. Publishes `team.deleted`.",
    responses={204: {"description": "deleted"}},
)
async def delete_team(team_id: TeamRef, request: Request, session: SessionDep, principal: Manager) -> Response:
    await service.delete_team(session, team_id)
    _changed(request, session, principal, "DELETE", f"teams/{team_id}", 204)
    return Response(status_code=204)
