"""Erasure reaches every personal text of the notifications service: each text column of its
tables with customer data is scrubbed by ``KNOWN_CUSTOMERS`` or declared non-personal."""

from __future__ import annotations

from tessera_notifications import all_models as _all_models  # noqa: F401 - registers the tables
from tessera_notifications.copies import handlers
from tessera_notifications.models import metadata
from tessera_shared.testing.erasure import scrubbed_columns, unaccounted


def test_every_text_column_is_scrubbed_or_declared_not_personal() -> None:
    assert unaccounted(metadata, handlers.KNOWN_CUSTOMERS, handlers.NOT_PERSONAL) == {}


def test_the_texts_that_may_name_the_customer_are_scrubbed() -> None:
    scrubbed = scrubbed_columns(handlers.KNOWN_CUSTOMERS)
    assert scrubbed["notifications"] == {"title", "body"}
    assert "deal_copies" not in scrubbed  # the copies keep ids and user names only
