"""Erasure reaches every personal text of the service desk (docs/domain.md §10.3): each text column
of the desk's tables is scrubbed by ``known_customers`` or declared non-personal there; a new text
column fails here until it is one or the other."""

from __future__ import annotations

from tessera_service_desk.kb import models as _kb  # noqa: F401 - registers the tables
from tessera_service_desk.known_customers import handlers
from tessera_service_desk.models import metadata
from tessera_service_desk.sla import models as _sla  # noqa: F401
from tessera_service_desk.surveys import models as _surveys  # noqa: F401
from tessera_service_desk.tickets import models as _tickets  # noqa: F401
from tessera_shared.testing.erasure import scrubbed_columns, unaccounted


def test_every_text_column_is_scrubbed_or_declared_not_personal() -> None:
    assert unaccounted(metadata, handlers.KNOWN_CUSTOMERS, handlers.NOT_PERSONAL) == {}


def test_the_texts_that_named_the_customer_are_scrubbed() -> None:
    scrubbed = scrubbed_columns(handlers.KNOWN_CUSTOMERS)
    assert {"subject", "description"} <= scrubbed["tickets"]
    assert scrubbed["ticket_comments"] == {"body"}
    assert scrubbed["surveys"] == {"comment"}
    assert scrubbed["escalation_notifications"] == {"message"}
