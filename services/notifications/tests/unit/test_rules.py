# ruff: noqa: RUF001 - Chinese texts use full-width punctuation
"""Pure routing parts: conditions on an event's data, the directory of users, the texts."""

from __future__ import annotations

import pytest

from tessera_gateway.auth.accounts import LOCAL_ACCOUNTS
from tessera_notifications.directory import LOCAL_USERS, UserDirectory
from tessera_notifications.inbox.texts import render
from tessera_notifications.rules.rules import DEFAULT_RULES, holds

DATA = {
    "amount": "250000.00",
    "currency": "EUR",
    "level": 2,
    "owner_id": None,
    "changed_fields": ["name", "owner_id"],
    "changes": {"owner_id": "rep2"},
}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ([], True),
        ([{"field": "amount", "op": "gte", "value": "250000"}], True),
        ([{"field": "amount", "op": "gt", "value": "250000"}], False),
        ([{"field": "amount", "op": "lt", "value": 1000000}], True),
        ([{"field": "currency", "op": "eq", "value": "EUR"}], True),
        ([{"field": "currency", "op": "in", "value": ["USD", "CNY"]}], False),
        ([{"field": "currency", "op": "ne", "value": "USD"}, {"field": "level", "op": "eq", "value": 2}], True),
        ([{"field": "owner_id", "op": "exists"}], False),
        ([{"field": "changes.owner_id", "op": "exists"}], True),
        ([{"field": "missing", "op": "exists", "value": False}], True),
        ([{"field": "missing", "op": "eq", "value": "x"}], False),
        ([{"field": "changed_fields", "op": "contains", "value": "owner_id"}], True),
        ([{"field": "changed_fields", "op": "contains", "value": "email"}], False),
    ],
)
def test_conditions(condition, expected) -> None:
    assert holds(condition, DATA) is expected


def test_the_local_users_are_the_gateways_local_user_accounts() -> None:
    users = {name for name, (kind, _) in LOCAL_ACCOUNTS.items() if kind == "user"}
    assert {u.username for u in LOCAL_USERS} == users
    for u in LOCAL_USERS:
        assert u.roles == frozenset(LOCAL_ACCOUNTS[u.username][1])


def test_the_directory_reads_the_accounts_document() -> None:
    document = (
        '[{"username": "li", "password_hash": "x", "roles": ["sales_manager"], "email": "li@example.cn",'
        ' "locale": "zh-CN", "teams": ["sales"], "lead_of": ["sales"]},'
        ' {"username": "svc", "roles": ["service"], "kind": "client"}]'
    )
    directory = UserDirectory.from_json(document, local=True)
    li = directory.get("li")
    assert li is not None and (li.email, li.locale) == ("li@example.cn", "zh")
    assert directory.with_role("sales_manager") == ["li"] and directory.leads_of("sales") == ["li"]
    assert "svc" not in directory and "manager" not in directory  # a document replaces the local users
    assert UserDirectory.from_json("[]", local=False).with_role("admin") == []


def test_texts_in_the_users_language_with_a_link() -> None:
    data = {"deal_id": "d1", "amount": "5.00", "currency": "EUR", "threshold": "1.00"}
    assert render("deal.large_detected", data, "zh", "Acme") == (
        "大额商机：5.00 EUR",
        "Acme 的商机金额达到 5.00 EUR（阈值 1.00）。",
        "/api/v1/deals/d1",
    )
    title, _body, link = render("deal.won", {"deal_id": "d1"}, "en", None)
    assert (title, link) == ("deal.won", None)


def test_every_shipped_rule_has_a_text() -> None:
    from tessera_notifications.inbox.texts import TEXTS

    assert {r["event_type"] for r in DEFAULT_RULES} - set(TEXTS) == set()


def test_text_values_compare_with_numbers_and_booleans() -> None:
    data = {"level": 2, "sla_breached": True, "amount": "10.50"}
    assert holds([{"field": "level", "op": "eq", "value": "2"}], data)
    assert holds([{"field": "sla_breached", "op": "eq", "value": "true"}], data)
    assert not holds([{"field": "sla_breached", "op": "eq", "value": "false"}], data)
    assert holds([{"field": "amount", "op": "gt", "value": "9.99"}], data)
    assert holds([{"field": "missing", "op": "exists", "value": "false"}], data)
    assert not holds([{"field": "level", "op": "exists", "value": "false"}], data)
