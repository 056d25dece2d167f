"""Erasure reaches every personal text of sales (docs/domain.md §10.3): each text column of sales'
tables is scrubbed by ``known_customers`` or declared non-personal there; a new text column fails
here until it is one or the other."""

from __future__ import annotations

from tessera_sales.activities import models as _activities  # noqa: F401 - registers the tables
from tessera_sales.campaigns import models as _campaigns  # noqa: F401
from tessera_sales.catalog import models as _catalog  # noqa: F401
from tessera_sales.credit import models as _credit  # noqa: F401
from tessera_sales.deals import models as _deals
from tessera_sales.known_customers import handlers
from tessera_sales.leads import models as _leads  # noqa: F401
from tessera_sales.models import metadata
from tessera_shared.known_customers import ERASED
from tessera_shared.testing.erasure import scrubbed_columns, text_columns, unaccounted


def test_every_text_column_is_scrubbed_or_declared_not_personal() -> None:
    assert unaccounted(metadata, handlers.KNOWN_CUSTOMERS, handlers.NOT_PERSONAL) == {}


def test_the_texts_that_named_the_customer_are_scrubbed() -> None:
    scrubbed = scrubbed_columns(handlers.KNOWN_CUSTOMERS)
    assert {"title", "lost_reason"} <= scrubbed["deals"]
    assert scrubbed["deal_lines"] == {"description"}
    assert scrubbed["deal_stage_changes"] == {"reason"}
    assert {"name", "company", "email", "phone", "title", "score_reasons", "disqualified_reason"} <= scrubbed["leads"]
    assert {"subject", "notes"} <= scrubbed["activities"]
    deal_scrub = next(s for s in handlers.KNOWN_CUSTOMERS.scrubs if s.model is _deals.Deal)
    assert deal_scrub.values["title"] == ERASED  # a required text takes the marker, not null


def test_a_new_text_column_is_caught() -> None:
    from sqlalchemy import Column, MetaData, String, Table, Uuid

    extra = MetaData()
    for table in metadata.sorted_tables:
        table.to_metadata(extra)
    Table("deals", extra, Column("private_memo", String(100)), extend_existing=True)
    Table("gossip", extra, Column("customer_id", Uuid()), Column("text", String(100)))
    assert text_columns(extra)["deals"] >= {"private_memo"}
    assert unaccounted(extra, handlers.KNOWN_CUSTOMERS, handlers.NOT_PERSONAL) == {
        "deals": {"private_memo"},
        "gossip": {"text"},
    }
