"""Unique custom field values within one batch write.

A single write checks a unique field's value against the stored records (``CustomFields.values``
reads them). A set-based batch (the batch upserts of customers, deals and leads) stores nothing
before its end, so that read does not see a value another input of the same batch gives:
``BatchClaims`` remembers each value an accepted input holds and refuses it to a later input of
another record, with the single write's 422 (``custom_fields.<key>``, kind ``unique``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from tessera_shared.custom_fields.model import at
from tessera_shared.custom_fields.service import CustomFields
from tessera_shared.errors import InvalidInput, field_error


class BatchClaims:
    def __init__(self, fields: CustomFields, entity: str) -> None:
        self.fields, self.entity = fields, entity
        self._unique: set[str] | None = None
        self._taken: dict[tuple[str, str], Any] = {}

    async def claim(
        self, session: AsyncSession, record_id: uuid.UUID, values: Mapping[str, Any], given: Iterable[str]
    ) -> None:
        """Claim for ``record_id`` the values of the unique fields among ``given`` (the keys its
        input gave) as ``values`` (its stored custom fields, validated) hold them; 422 naming each
        one an earlier input of another record holds."""
        given = [k for k in given if values.get(k) is not None]
        if not given:
            return
        if self._unique is None:
            with session.no_autoflush:  # the records the batch applied in memory stay unwritten
                definitions = await self.fields.definitions(session, self.entity)
            self._unique = {k for k, d in definitions.items() if d.unique}
        claims = [
            (key, orjson.dumps(values[key], default=str, option=orjson.OPT_SORT_KEYS).decode())
            for key in given
            if key in self._unique
        ]
        taken = [k for k, v in claims if self._taken.get((k, v), record_id) != record_id]
        if taken:
            raise InvalidInput.of(
                [field_error(at(k), f"another {self.entity} has this value", kind="unique") for k in taken]
            )
        for claim in claims:
            self._taken[claim] = record_id
