"""The team level of the owner rules: the gateway's signed team-scope header and OwnerScope."""

from __future__ import annotations

import secrets
import uuid
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid, select
from sqlalchemy.dialects import postgresql
from sqlalchemy.ext.asyncio import create_async_engine

from tessera_shared.auth import TEAM_SCOPE_HEADER, CurrentPrincipal, OwnerScope, Principal, TokenCodec, owns


def codec(key: str | None = None) -> TokenCodec:
    return TokenCodec(
        algorithm="HS256", signing_key=key or secrets.token_hex(32), issuer="tessera-gateway", audience="tessera"
    )


def test_scope_round_trip() -> None:
    c = codec()
    scope = c.issue_team_scope("lead1", ["t1"], ["rep1", "rep2", "lead1"])
    assert c.verify_team_scope(scope, "lead1") == (frozenset({"t1"}), frozenset({"rep1", "rep2", "lead1"}))


def test_scope_of_another_subject_is_ignored() -> None:
    c = codec()
    assert c.verify_team_scope(c.issue_team_scope("lead1", ["t1"], ["rep1"]), "rep1") is None


def test_forged_and_expired_scopes_are_ignored() -> None:
    c = codec()
    assert c.verify_team_scope(codec().issue_team_scope("lead1", ["t1"], ["rep1"]), "lead1") is None
    expired = c.issue_team_scope("lead1", ["t1"], ["rep1"], ttl=timedelta(seconds=-60))
    assert c.verify_team_scope(expired, "lead1") is None


def test_a_scope_is_not_a_token_and_a_token_is_not_a_scope() -> None:
    c = codec()
    with pytest.raises(Exception, match="invalid token"):
        c.verify(c.issue_team_scope("lead1", ["t1"], ["rep1"]))
    assert c.verify_team_scope(c.issue("lead1", ["sales_rep"]), "lead1") is None


def app_with(c: TokenCodec) -> FastAPI:
    app = FastAPI()
    app.state.token_codec = c

    @app.get("/me")
    async def me(p: CurrentPrincipal) -> dict[str, list[str]]:
        return {"teams": sorted(p.led_teams), "members": sorted(p.team_members)}

    return app


def test_the_principal_dependency_fills_the_team_fields_from_a_valid_header_only() -> None:
    c = codec()
    client = TestClient(app_with(c))
    auth = {"Authorization": f"Bearer {c.issue('lead1', ['sales_rep'])}"}
    valid = client.get("/me", headers={**auth, TEAM_SCOPE_HEADER: c.issue_team_scope("lead1", ["t1"], ["rep1"])})
    assert valid.json() == {"teams": ["t1"], "members": ["rep1"]}
    forged = codec().issue_team_scope("lead1", ["t1"], ["rep1"])
    assert client.get("/me", headers={**auth, TEAM_SCOPE_HEADER: forged}).json() == {"teams": [], "members": []}
    assert client.get("/me", headers=auth).json() == {"teams": [], "members": []}


def test_owner_scope_rules() -> None:
    lead = Principal(
        subject="lead1", roles=frozenset({"sales_rep"}), led_teams=frozenset({"t1"}), team_members=frozenset({"rep1"})
    )
    rep = Principal(subject="rep2", roles=frozenset({"sales_rep"}))
    assert owns(lead, "lead1") and owns(lead, "rep1") and owns(lead, "someone", "t1")
    assert not owns(lead, "rep2") and not owns(lead, None)
    assert owns(rep, "rep2") and not owns(rep, "rep1") and not owns(rep, "x", "t1")
    scope = OwnerScope.of(lead)
    assert scope.narrowed("rep1") == OwnerScope.only("rep1")
    assert scope.narrowed("rep2") is None and scope.narrowed(None) is scope


def test_owner_scope_clause() -> None:
    t = Table("deal", MetaData(), Column("owner_id", String), Column("team_id", String))
    lead = OwnerScope(frozenset({"lead1", "rep1"}), frozenset({"t1"}))
    sql = str(lead.clause(t.c.owner_id, t.c.team_id).compile(dialect=postgresql.dialect()))
    assert "deal.owner_id IN" in sql and "OR deal.team_id IN" in sql
    rep = str(OwnerScope.only("rep2").clause(t.c.owner_id, t.c.team_id).compile(dialect=postgresql.dialect()))
    assert rep.startswith("deal.owner_id = ") and "team_id" not in rep


async def test_owner_scope_clause_on_a_uuid_team_column_in_sqlite() -> None:
    team = uuid.uuid4()
    t = Table(
        "deal", MetaData(), Column("id", Integer, primary_key=True), Column("owner_id", String), Column("team_id", Uuid)
    )
    engine = create_async_engine("sqlite+aiosqlite:///:memory:")
    async with engine.begin() as conn:
        await conn.run_sync(t.metadata.create_all)
        await conn.execute(
            t.insert(),
            [
                {"id": 1, "owner_id": "rep1", "team_id": None},
                {"id": 2, "owner_id": "x", "team_id": team},
                {"id": 3, "owner_id": "y", "team_id": uuid.uuid4()},
                {"id": 4, "owner_id": "lead1", "team_id": None},
            ],
        )
        scope = OwnerScope(frozenset({"lead1", "rep1"}), frozenset({str(team)}))
        rows = await conn.execute(select(t.c.id).where(scope.clause(t.c.owner_id, t.c.team_id)).order_by(t.c.id))
        assert [r[0] for r in rows] == [1, 2, 4]
    await engine.dispose()
