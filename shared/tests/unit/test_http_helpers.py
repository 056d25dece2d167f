from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import jwt
import orjson
import pytest
from sqlalchemy import exc as sa_exc

from tessera_shared.auth import TokenCodec
from tessera_shared.db import new_id
from tessera_shared.errors import InvalidInput
from tessera_shared.http.errors import Problem
from tessera_shared.http.pagination import decode_cursor, encode_cursor


def codec(key: str = "k" * 40) -> TokenCodec:
    return TokenCodec(algorithm="HS256", signing_key=key, issuer="tessera-gateway", audience="tessera")


def test_token_round_trip() -> None:
    c = codec()
    p = c.verify(c.issue("rep1", ["sales_rep"]))
    assert (p.subject, p.roles, p.kind) == ("rep1", frozenset({"sales_rep"}), "user")


def test_token_signed_with_another_key_is_refused() -> None:
    with pytest.raises(Problem) as err:
        codec().verify(codec("x" * 40).issue("rep1", ["admin"]))
    assert err.value.status == 401


def test_expired_token_is_refused() -> None:
    c = codec()
    token = c.issue("rep1", ["admin"], ttl=timedelta(seconds=-60))
    with pytest.raises(Problem) as err:
        c.verify(token)
    assert "expired" in (err.value.detail or "")


def test_a_verified_token_expires_in_the_cache_too(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    import tessera_shared.auth as auth

    c = codec()
    token = c.issue("rep1", ["admin"], ttl=timedelta(seconds=30))
    assert c.verify(token).subject == "rep1"
    assert c.verify(token).subject == "rep1"  # from the cache
    later = time.time() + 30 + auth.LEEWAY + 1
    monkeypatch.setattr(time, "time", lambda: later)  # the module auth reads the clock from
    monkeypatch.setattr(jwt.api_jwt, "datetime", _FrozenDatetime(later))
    with pytest.raises(Problem) as err:
        c.verify(token)
    assert "expired" in (err.value.detail or "")


def test_a_tampered_copy_of_a_cached_token_is_refused() -> None:
    c = codec()
    token = c.issue("rep1", ["sales_rep"])
    c.verify(token)
    header, _payload, signature = token.split(".")
    forged = jwt.encode(
        {**jwt.decode(token, options={"verify_signature": False}), "roles": ["admin"]}, "x" * 40, algorithm="HS256"
    ).split(".")[1]
    with pytest.raises(Problem):
        c.verify(f"{header}.{forged}.{signature}")


def test_the_verified_cache_is_bounded() -> None:
    import tessera_shared.auth as auth

    c = codec()
    tokens = [c.issue(f"u{i}", ["admin"]) for i in range(auth.VERIFIED_CACHE_SIZE + 5)]
    for t in tokens:
        c.verify(t)
    assert len(c._verified) == auth.VERIFIED_CACHE_SIZE
    assert tokens[0] not in c._verified and tokens[-1] in c._verified


class _FrozenDatetime:
    """Stands in for PyJWT's datetime module reference: now() is a fixed instant."""

    def __init__(self, ts: float) -> None:
        self._ts = ts

    def now(self, tz=None) -> datetime:
        return datetime.fromtimestamp(self._ts, tz)

    def __getattr__(self, name: str):
        return getattr(datetime, name)


def test_token_for_another_audience_is_refused() -> None:
    token = jwt.encode(
        {
            "sub": "x",
            "roles": ["admin"],
            "iss": "tessera-gateway",
            "aud": "other",
            "iat": datetime.now(UTC),
            "exp": datetime.now(UTC) + timedelta(minutes=1),
        },
        "k" * 40,
        algorithm="HS256",
    )
    with pytest.raises(Problem):
        codec().verify(token)


def test_none_algorithm_is_refused() -> None:
    token = jwt.encode(
        {
            "sub": "x",
            "roles": ["admin"],
            "iss": "tessera-gateway",
            "aud": "tessera",
            "iat": datetime.now(UTC),
            "exp": datetime.now(UTC) + timedelta(minutes=1),
        },
        None,  # type: ignore[arg-type]  # PyJWT takes no key for alg "none"; its annotation wants one
        algorithm="none",
    )
    with pytest.raises(Problem):
        codec().verify(token)


def test_cursor_round_trip() -> None:
    values = [datetime(2026, 1, 2, tzinfo=UTC), uuid.uuid4(), 5, "x"]
    assert decode_cursor(encode_cursor(values), 4) == values


@pytest.mark.parametrize("bad", ["", "!!!", encode_cursor([1, 2])], ids=["empty", "not-base64", "wrong-length"])
def test_bad_cursor_is_a_422_naming_cursor(bad: str) -> None:
    with pytest.raises(InvalidInput) as err:
        decode_cursor(bad, 1)
    assert err.value.status == 422
    assert err.value.errors[0]["field"] == "cursor"


def test_cursors_are_signed_and_typed_by_their_columns() -> None:
    from decimal import Decimal

    from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Uuid

    from tessera_shared.db import Money, UTCDateTime
    from tessera_shared.http import pagination

    t = Table(
        "t",
        MetaData(),
        Column("id", Uuid),
        Column("at", UTCDateTime),
        Column("n", Integer),
        Column("m", Money),
        Column("s", String),
        Column("plain", DateTime),
    )
    columns = (t.c.id, t.c.at, t.c.n, t.c.m, t.c.s)
    values = [uuid.uuid4(), datetime(2026, 1, 2, tzinfo=UTC), 5, Decimal("1.50"), "x"]
    issued = encode_cursor([*values[:3], "1.50", "x"])
    assert decode_cursor(issued, columns) == values
    pagination.configure_cursor_key("another replica's key")
    try:
        with pytest.raises(InvalidInput):  # signed with another key
            decode_cursor(issued, columns)
        assert decode_cursor(encode_cursor(["x"]), 1) == ["x"]
    finally:
        pagination.configure_cursor_key(secrets.token_bytes(32))
    for wrong, column in [
        ("x", t.c.id),
        (2**63, t.c.n),
        (True, t.c.n),
        ("1e999999", t.c.m),
        ("NaN", t.c.m),
        ("a\x00", t.c.s),
        (5, t.c.s),
        ({"t": "2026-01-02T00:00:00"}, t.c.at),
        ({"t": "0001-01-01T00:00:00+14:00"}, t.c.at),
        ({"u": "x"}, t.c.id),
        ([1], t.c.s),
        (1.5, t.c.n),
        ({"x": 1}, t.c.s),
    ]:
        raw = orjson.dumps([wrong])
        forged = base64.urlsafe_b64encode(pagination._signature(raw) + raw).decode()
        with pytest.raises(InvalidInput) as err:
            decode_cursor(forged, (column,))
        assert err.value.status == 422, wrong


def test_a_scoped_cursor_opens_only_in_its_scope() -> None:
    search, other = hashlib.sha256(b"deals: amount >= 1").digest(), hashlib.sha256(b"deals: all").digest()
    cursor = encode_cursor([1, "a"], search)
    assert decode_cursor(cursor, 2, search) == [1, "a"]
    for scope in (other, b""):
        with pytest.raises(InvalidInput):
            decode_cursor(cursor, 2, scope)
    with pytest.raises(InvalidInput):  # nor does a list's cursor open in a search
        decode_cursor(encode_cursor([1, "a"]), 2, search)


def test_ids_are_time_ordered_uuid7() -> None:
    ids = [new_id() for _ in range(1000)]
    assert all(i.version == 7 for i in ids)
    stamps = [i.int >> 80 for i in ids]
    assert stamps == sorted(stamps)
    assert len(set(ids)) == 1000


@pytest.mark.parametrize(
    ("raised", "status"),
    [
        (sa_exc.TimeoutError("QueuePool limit reached"), 503),
        (sa_exc.OperationalError("SELECT 1", {}, ConnectionResetError(), connection_invalidated=True), 503),
        (sa_exc.IntegrityError("INSERT", {}, ValueError("boom")), 500),
    ],
)
def test_database_overload_and_outage_are_503_with_retry_after(raised: Exception, status: int) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from tessera_shared.http.errors import install_problem_handlers

    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/x")
    async def boom() -> None:
        raise raised

    r = TestClient(app, raise_server_exceptions=False).get("/x")
    assert r.status_code == status
    assert r.headers["content-type"].startswith("application/problem+json")
    assert (r.headers.get("retry-after") == "1") is (status == 503)
