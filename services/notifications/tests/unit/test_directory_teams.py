"""The directory's teams: the gateway's teams (team.* events, the service's copy) laid over the
configured memberships by key (issue 24, part 4)."""

from __future__ import annotations

from dataclasses import dataclass

from tessera_notifications.directory import LOCAL_USERS, UserDirectory


@dataclass(frozen=True)
class Team:
    key: str
    lead: str | None
    members: frozenset[str]


def test_the_gateways_teams_replace_the_configured_membership_of_their_key() -> None:
    directory = UserDirectory(LOCAL_USERS)
    assert directory.leads_of("sales") == ["manager"] and "rep1" in directory.in_team("sales")
    directory.learn_teams([Team("sales", "lead1", frozenset({"rep1"})), Team("north", None, frozenset({"rep2"}))])
    assert directory.leads_of("sales") == ["lead1"]
    assert directory.in_team("sales") == ["lead1", "rep1"]  # the lead is a member
    assert directory.in_team("north") == ["rep2"] and directory.leads_of("north") == []
    assert directory.leads_of("tier1") == ["agent"]  # a team only the configuration names
    directory.learn_teams([])  # the gateway deleted them: the configuration again
    assert directory.leads_of("sales") == ["manager"] and directory.in_team("north") == []
