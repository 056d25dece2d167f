"""The sales owner rules' team level (issue 24, part 4): pure rules, no I/O."""

from __future__ import annotations

import pytest

from tessera_sales.ownership import check_reassign, list_scope, may_see, owner_for_new, scope_owner
from tessera_shared.auth import OwnerScope, Principal
from tessera_shared.errors import Forbidden

LEAD = Principal(
    subject="lead1",
    roles=frozenset({"sales_rep"}),
    led_teams=frozenset({"t1"}),
    team_members=frozenset({"lead1", "rep1", "rep2"}),
)
REP = Principal(subject="rep1", roles=frozenset({"sales_rep"}))
MANAGER = Principal(subject="boss", roles=frozenset({"sales_manager"}))


def test_a_lead_sees_the_members_and_the_teams_records() -> None:
    assert may_see(LEAD, "rep2") and may_see(LEAD, "lead1") and may_see(LEAD, "x", "t1")
    assert not may_see(LEAD, "rep9") and not may_see(LEAD, None)
    assert may_see(REP, "rep1") and not may_see(REP, "rep2") and not may_see(REP, "x", "t1")
    assert scope_owner(MANAGER) is None
    assert scope_owner(LEAD) == OwnerScope(frozenset({"lead1", "rep1", "rep2"}), frozenset({"t1"}))


def test_a_list_owner_filter_narrows_within_the_scope() -> None:
    assert list_scope(LEAD, "rep2") == OwnerScope.only("rep2")
    assert list_scope(LEAD, "rep9") is False and list_scope(REP, "rep2") is False
    assert list_scope(REP, None) == OwnerScope.only("rep1")
    assert list_scope(MANAGER, None) is None and list_scope(MANAGER, "rep9") == OwnerScope.only("rep9")


def test_a_lead_assigns_and_reassigns_between_members_only() -> None:
    assert owner_for_new(LEAD, "rep2") == "rep2"
    check_reassign(LEAD, "deal", "rep1", "rep2")
    with pytest.raises(Forbidden):
        owner_for_new(LEAD, "rep9")
    with pytest.raises(Forbidden):
        check_reassign(LEAD, "deal", "rep1", "rep9")
    with pytest.raises(Forbidden):
        check_reassign(REP, "deal", "rep1", "rep2")
