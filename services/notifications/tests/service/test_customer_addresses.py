"""The copy of the customers' addresses is written for a consumed batch by one statement: a
customer twice in the batch keeps the last address, a later batch replaces it."""

from __future__ import annotations

import uuid

import pytest
from notifications_helpers import make_app
from sqlalchemy import select

from tessera_notifications.email.customers import keep_addresses
from tessera_notifications.email.models import CustomerContact
from tessera_shared.db import read_session, unit_of_work
from tessera_shared.testing.plugin import running


@pytest.mark.sqlite
async def test_a_batch_of_addresses_keeps_each_customers_last_one(databases, backend) -> None:
    app = await make_app(databases, backend)
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with running(app):
        sessions = app.state.runtime.sessions
        async with unit_of_work(sessions) as session:
            await keep_addresses(session, [(a, "a@example.com"), (b, "b@example.com"), (a, "a2@example.com")])
        async with unit_of_work(sessions) as session:
            await keep_addresses(session, [(b, None), (c, "c@example.com")])
            await keep_addresses(session, [])
        async with read_session(sessions) as session:
            found = dict((await session.execute(select(CustomerContact.customer_id, CustomerContact.email))).all())
    assert found == {a: "a2@example.com", b: None, c: "c@example.com"}
