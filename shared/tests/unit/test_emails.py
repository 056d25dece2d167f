"""Email (tessera_shared.emails) accepts, normalises and refuses every value as pydantic's EmailStr
does, with the same messages; its fast path answers the plain addresses without email_validator."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import EmailStr, TypeAdapter, ValidationError

from tessera_shared.emails import Email, plain_email

SLOW = TypeAdapter(EmailStr)
FAST = TypeAdapter(Email)

EDGES = [
    "ada@example.com",
    "Ada.Lovelace@Example.COM",
    "POSTMASTER@example.com",
    "Info@Example.org",
    "a+tag@sub.example.co.uk",
    "o'brien@example.ie",
    "x@a.io",
    "x@a.b",
    "x@a.b1",
    "x@example.c-m",
    "x@ex--ample.com",
    "x@xn--bcher-kva.example",
    "x@ab--cd.com",
    "x@-example.com",
    "x@example-.com",
    "x@example.com.",
    "x@.example.com",
    "x@example..com",
    "x@localhost",
    "x@my.local",
    "x@host.test",
    "x@host.invalid",
    "x@in-addr.arpa",
    "x@example.onion",
    ".x@example.com",
    "x.@example.com",
    "x..y@example.com",
    " ada@example.com ",
    "Ada <ada@example.com>",
    '"quoted"@example.com',
    "ada@exämple.com",
    "adä@example.com",
    "ada@[127.0.0.1]",
    "ada@",
    "@example.com",
    "ada",
    "",
    "a@b@example.com",
    "a\nb@example.com",
    "x" * 64 + "@example.com",
    "x" * 65 + "@example.com",
    "x@" + "a" * 63 + ".com",
    "x@" + "a" * 64 + ".com",
    "x@" + ".".join(["a" * 60] * 4) + ".com",
    "y" * 64 + "@" + ".".join(["b" * 61] * 3) + ".com",
    "x@example." + "c" * 63,
    "x@example." + "c" * 64,
]


def _answer(adapter: TypeAdapter[Any], value: Any) -> tuple[str, Any]:
    try:
        return "ok", adapter.validate_python(value)
    except ValidationError as exc:
        return "error", [(e["type"], e["msg"]) for e in exc.errors()]


@pytest.mark.parametrize("value", EDGES)
def test_edges_answered_as_emailstr(value: str) -> None:
    assert _answer(FAST, value) == _answer(SLOW, value)


def test_plain_addresses_take_the_fast_path() -> None:
    assert plain_email("Ada.Lovelace@Example.COM") == "Ada.Lovelace@example.com"
    assert plain_email("POSTMASTER@Example.com") == "postmaster@example.com"
    for value in ("x@host.test", "Ada <ada@example.com>", "ada@exämple.com", "x@xn--bcher-kva.example"):
        assert plain_email(value) is None  # left to email_validator


_ASCII_PARTS = st.sampled_from([*"aZ9.-_+@'\"<> [];:()!#~", "--", "xn--", ".com", ".test", "@ex.org"])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_ASCII_PARTS, min_size=1, max_size=14).map("".join))
def test_random_ascii_answered_as_emailstr(value: str) -> None:
    assert _answer(FAST, value) == _answer(SLOW, value)


@settings(max_examples=200, deadline=None)
@given(
    st.from_regex(r"[A-Za-z0-9._%+-]{1,70}", fullmatch=True),
    st.lists(st.from_regex(r"[A-Za-z0-9-]{1,64}", fullmatch=True), min_size=1, max_size=4),
    st.from_regex(r"[A-Za-z0-9]{1,64}", fullmatch=True),
)
def test_random_addresses_answered_as_emailstr(local: str, labels: list[str], tld: str) -> None:
    value = f"{local}@{'.'.join([*labels, tld])}"
    assert _answer(FAST, value) == _answer(SLOW, value)


def test_json_schema_is_emailstrs() -> None:
    assert FAST.json_schema() == SLOW.json_schema() == {"type": "string", "format": "email"}
