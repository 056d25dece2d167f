"""Team rules and storage: CRUD with validation, events through the outbox in the same transaction."""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from tessera_gateway.auth.accounts import AccountDirectory
from tessera_gateway.models import Team
from tessera_shared.auth import Principal
from tessera_shared.db import utcnow
from tessera_shared.errors import Conflict, InvalidInput, NotFound
from tessera_shared.events.contracts.gateway import TeamCreated, TeamDeleted, TeamState, TeamTerritory, TeamUpdated
from tessera_shared.http.pagination import PageParams, paginate
from tessera_shared.outbox import publish

KEY = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
MAX_MEMBERS = 500

# The local-mode teams (tessera_shared.auth.LOCAL_USER_ROLES' users; the notifications directory's
# local teams): created at start when missing, with ids derived from their keys, so replicas
# starting together create each once. (key, name, lead, members)
LOCAL_TEAMS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    ("sales", "Sales", "manager", ("rep1", "rep2", "lead1")),
    ("tier1", "Support tier 1", "agent", ("agent",)),
    ("tier2", "Support tier 2", "admin", ("agent", "admin")),
    ("tier3", "Support tier 3", "admin", ("admin",)),
)
_LOCAL_NAMESPACE = uuid.UUID("6f1d3c2e-8b4a-4e1f-9c7d-5a2b0e4f8d13")


def local_team_id(key: str) -> uuid.UUID:
    return uuid.uuid5(_LOCAL_NAMESPACE, key)


def slug(name: str) -> str:
    """A key made from a name: 'Sales North (DE)' -> 'sales-north-de'."""
    text = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()
    return "-".join(re.findall(r"[a-z0-9]+", text))[:90] or "team"


async def _free_key(session: AsyncSession, base: str) -> str:
    """``base``, or ``base-2``, ``base-3``... whichever no team holds."""
    rows = await session.execute(select(col(Team.key)).where(col(Team.key).startswith(base)))
    taken = {k for (k,) in rows}
    n = 1
    key = base
    while key in taken:
        n += 1
        key = f"{base}-{n}"
    return key


def _members(lead: str | None, members: Iterable[str]) -> list[str]:
    """The members in the order given, each once, the lead included."""
    out = list(dict.fromkeys(members))
    if lead is not None and lead not in out:
        out.insert(0, lead)
    return out


def check_people(accounts: AccountDirectory, lead: str | None, members: Sequence[str] | None) -> None:
    """Lead and members must be known user accounts (422 naming ``lead`` or ``members[i]``)."""
    if lead is not None and not _is_user(accounts, lead):
        raise InvalidInput("lead", f"no user account named {lead!r}")
    if members is not None:
        if len(members) > MAX_MEMBERS:
            raise InvalidInput("members", f"at most {MAX_MEMBERS} members")
        for i, name in enumerate(members):
            if not _is_user(accounts, name):
                raise InvalidInput(f"members[{i}]", f"no user account named {name!r}")


def _is_user(accounts: AccountDirectory, name: str) -> bool:
    account = accounts.get(name)
    return account is not None and account.kind == "user"


def _territories(territories: Iterable[TeamTerritory]) -> list[dict[str, str | None]]:
    out: list[dict[str, str | None]] = []
    for i, t in enumerate(territories):
        if t.country is None and t.region is None:
            raise InvalidInput(f"territories[{i}]", "name a country, a region or both")
        rule = {"country": t.country.upper() if t.country else None, "region": t.region}
        if rule not in out:
            out.append(rule)
    return out


def state_of(row: Team) -> dict[str, Any]:
    return {
        "team_id": row.id,
        "key": row.key,
        "name": row.name,
        "lead": row.lead,
        "members": list(row.members),
        "territories": [TeamTerritory(**t) for t in row.territories],
        "version": row.version,
        "updated_at": row.updated_at,
    }


async def _publish(session: AsyncSession, event: TeamState) -> None:
    await publish(session, event, subject=str(event.team_id), key=str(event.team_id))


async def create_team(
    session: AsyncSession,
    principal: Principal,
    accounts: AccountDirectory,
    *,
    key: str | None,
    name: str,
    lead: str | None,
    members: Sequence[str],
    territories: Iterable[TeamTerritory],
    description: str | None,
    team_id: uuid.UUID | None = None,
) -> Team:
    if key is None:
        key = await _free_key(session, slug(name))
    if not KEY.fullmatch(key):
        raise InvalidInput("key", "lowercase letters, digits and single hyphens (a slug, e.g. sales-north)")
    check_people(accounts, lead, members)
    if (await session.execute(select(col(Team.id)).where(col(Team.key) == key))).first() is not None:
        raise Conflict(f"a team with key {key!r} exists", kind="team-key-taken")
    now = utcnow()
    row = Team(
        key=key,
        name=name,
        description=description,
        lead=lead,
        members=_members(lead, members),
        territories=_territories(territories),
        version=1,
        created_by=principal.subject,
        created_at=now,
        updated_at=now,
    )
    if team_id is not None:
        row.id = team_id
    session.add(row)
    try:
        await session.flush()
    except IntegrityError:
        raise Conflict(f"a team with key {key!r} exists", kind="team-key-taken") from None
    await _publish(session, TeamCreated(**state_of(row)))
    return row


async def get_team(session: AsyncSession, ref: uuid.UUID | str, *, for_update: bool = False) -> Team:
    """The team with this id, or this key."""
    team_id = ref if isinstance(ref, uuid.UUID) else _uuid(ref)
    if team_id is not None:
        row = await session.get(Team, team_id, with_for_update=for_update)
    else:
        stmt = select(Team).where(col(Team.key) == ref)
        row = (await session.execute(stmt.with_for_update() if for_update else stmt)).scalars().first()
    if row is None:
        raise NotFound("team", ref)
    return row


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


async def list_teams(
    session: AsyncSession, page: PageParams, *, lead: str | None = None
) -> tuple[list[Any], str | None]:
    stmt = select(Team)
    if lead is not None:
        stmt = stmt.where(col(Team.lead) == lead)
    # By key, then id (the keyset every list ends with, so a cursor reads the same everywhere).
    return await paginate(session, stmt, page, (col(Team.key), col(Team.id)))


async def all_teams(session: AsyncSession) -> list[Team]:
    return list((await session.execute(select(Team))).scalars())


async def update_team(
    session: AsyncSession,
    accounts: AccountDirectory,
    team_id: uuid.UUID | str,
    changes: dict[str, Any],
    *,
    expected_version: int | None = None,
) -> Team:
    row = await get_team(session, team_id, for_update=True)
    if expected_version is not None and expected_version != row.version:
        raise Conflict(f"team {team_id} is at version {row.version}, not {expected_version}", kind="version-mismatch")
    lead = changes.get("lead", row.lead)
    members = changes.get("members")
    check_people(accounts, changes.get("lead"), members)
    new_members = _members(lead, row.members if members is None else members)
    if "lead" in changes and members is None and row.lead is not None and row.lead != lead:
        # The former lead stays a member unless the members are given too.
        new_members = _members(lead, row.members)
    new = {
        "name": changes.get("name", row.name),
        "description": changes.get("description", row.description),
        "lead": lead,
        "members": new_members,
        "territories": _territories(changes["territories"]) if "territories" in changes else row.territories,
    }
    if all(getattr(row, k) == v for k, v in new.items()):
        return row  # nothing changed: no new version, no event
    for k, v in new.items():
        setattr(row, k, v)
    row.version += 1
    row.updated_at = utcnow()
    await session.flush()
    await _publish(session, TeamUpdated(**state_of(row)))
    return row


async def delete_team(session: AsyncSession, team_id: uuid.UUID | str) -> None:
    row = await get_team(session, team_id, for_update=True)
    state = state_of(row)
    await session.delete(row)
    await session.flush()
    state.update(version=row.version + 1, updated_at=utcnow())
    await _publish(session, TeamDeleted(**state))


async def ensure_local_teams(sessions: async_sessionmaker[AsyncSession], accounts: AccountDirectory) -> int:
    """Create the local teams that are missing (local mode only); how many were created. Safe
    when replicas start together: the ids are fixed, a second insert fails and is rolled back."""
    system = Principal(subject="gateway", roles=frozenset(), kind="client")
    created = 0
    for key, name, lead, members in LOCAL_TEAMS:
        if not all(_is_user(accounts, n) for n in (lead, *members)):
            continue  # configured accounts without the local users
        try:
            async with sessions() as session, session.begin():
                if await session.get(Team, local_team_id(key)) is not None:
                    continue
                await create_team(
                    session,
                    system,
                    accounts,
                    key=key,
                    name=name,
                    lead=lead,
                    members=members,
                    territories=(),
                    description="A local-mode team",
                    team_id=local_team_id(key),
                )
                created += 1
        except (IntegrityError, Conflict):
            continue  # another replica made it, or a team took the key
    return created
