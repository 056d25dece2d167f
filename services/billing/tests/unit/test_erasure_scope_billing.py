"""Erasure reaches every personal text of billing (docs/domain.md §10.3): each text column of
billing's tables is scrubbed by ``known_customers`` (a scrub or its declared hook) or declared
non-personal there; a new text column fails here until it is one or the other."""

from __future__ import annotations

from tessera_billing import all_models as _all  # noqa: F401 - registers the tables
from tessera_billing.known_customers import handlers
from tessera_billing.models import metadata
from tessera_shared.testing.erasure import scrubbed_columns, unaccounted


def test_every_text_column_is_scrubbed_or_declared_not_personal() -> None:
    assert unaccounted(metadata, handlers.KNOWN_CUSTOMERS, handlers.NOT_PERSONAL, handlers.ERASED_BY_HOOKS) == {}


def test_the_texts_that_named_the_customer_are_scrubbed() -> None:
    scrubbed = scrubbed_columns(handlers.KNOWN_CUSTOMERS)
    assert {"customer_name", "note"} <= scrubbed["invoices"]
    assert scrubbed["invoice_lines"] == {"description"}
    assert {"reason", "decision_note"} <= scrubbed["write_offs"]
    assert scrubbed["payments"] == {"reference"}
    assert scrubbed["ledger_entries"] == {"reference"}
