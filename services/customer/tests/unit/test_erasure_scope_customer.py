"""The customer service's erasure reaches every personal text of its tables (docs/domain.md §10.3):
each text column of a table holding customer data is erased (``privacy.service.ERASED_COLUMNS``)
or declared non-personal (``NOT_PERSONAL``); a new text column fails here until it is one or the
other."""

from __future__ import annotations

from tessera_customer import all_models as _all  # noqa: F401 - registers the tables
from tessera_customer.models import metadata
from tessera_customer.privacy.service import ERASED_COLUMNS, NOT_PERSONAL
from tessera_shared.testing.erasure import uncovered


def test_every_text_column_is_erased_or_declared_not_personal() -> None:
    assert uncovered(metadata, ERASED_COLUMNS, NOT_PERSONAL, also=["customers"]) == {}


def test_no_column_is_both() -> None:
    assert {t: ERASED_COLUMNS[t] & NOT_PERSONAL[t] for t in ERASED_COLUMNS.keys() & NOT_PERSONAL.keys()} == {
        t: frozenset() for t in ERASED_COLUMNS.keys() & NOT_PERSONAL.keys()
    }
