"""Typed custom fields (issue 24 part 2): one mechanic for every service that owns an entity.

Which service owns which entity's fields: customer → customer, contact; sales → deal, lead;
service-desk → ticket (``CUSTOM_FIELD_OWNERS``). A definition's id is ``"<entity>.<key>"``.

Modules:

- ``model``: the definition (``Definition``; API models ``DefinitionIn``/``DefinitionPatch``/
  ``DefinitionOut``) and the validation of values (``validate_values``: a 422 naming
  ``custom_fields.<key>``); pure, no database;
- ``tables``: ``definitions_table(metadata)`` (``custom_field_definitions``) and
  ``custom_fields_column()`` for the records (JSONB on PostgreSQL, JSON on SQLite);
- ``migrations``: ``create_definitions_table()``, ``add_custom_fields_column("deals")``;
- ``sql``: each type's SQL expression, search properties, list filters, the per-field index;
- ``service``: ``CustomFields``, a service's registry (definitions cached with ``ReadCache``,
  create/update with ``custom_field.created``/``custom_field.updated`` events, values, filters);
- ``router``: ``custom_fields_router(fields)`` → ``GET/POST /v1/custom-fields``,
  ``GET/PATCH /v1/custom-fields/{entity}.{key}``.

How a service plugs it in (sales does it for deals and leads; see ``tessera_sales.custom_fields``):

1. Tables. In the service's models, ``DEFINITIONS = definitions_table(Base.metadata)`` and on
   each record model ``custom_fields: dict[str, Any] = Field(default_factory=dict,
   sa_column=custom_fields_column())``. A migration: ``create_definitions_table()`` and
   ``add_custom_fields_column("<table>")`` (and the drops in ``downgrade``).
2. Registry. ``CUSTOM_FIELDS = CustomFields(DEFINITIONS, producer="<service>", entities={"deal":
   Bound(col(Deal.custom_fields), col(Deal.id))})``; add ``custom_fields_router(CUSTOM_FIELDS)``
   to the app's routers.
3. Writes. The create and PATCH schemas take ``custom_fields: CustomFieldValues | None`` (the
   ``model.CustomFieldValues`` annotation documents it in the OpenAPI); the service sets
   ``record.custom_fields = await CUSTOM_FIELDS.values(session, "deal", body.custom_fields,
   creating=True)`` on create and ``await CUSTOM_FIELDS.values(session, "deal",
   patch.custom_fields, record.custom_fields, creating=False, record_id=record.id)`` on PATCH
   (only when the PATCH gave the key). Assign a NEW dict (the JSON column is not mutation-tracked).
4. Outputs. The record's output schema has ``custom_fields: dict[str, Any]``; events carrying
   the record add ``custom_fields`` (their ``*Changes`` models too: the whole new object).
5. Lists. Mark the list endpoint ``@accepts_query_prefix("custom_fields.")``
   (``tessera_shared.http.query``; decorator under ``@router.get``), take ``request: Request``
   and AND ``await CUSTOM_FIELDS.list_filters(session, "deal", request.query_params.multi_items())``
   to the statement: ``?custom_fields.<key>=v`` (a multi_enum holds v) and
   ``?custom_fields.<key>[lt|lte|gt|gte|neq]=v``, ``[has]=true|false``.
6. Search. Declare the ``Searchable`` with ``dynamic=PROPERTY_PATTERN`` (``sql``) and in the
   endpoint run ``run_search(session, await CUSTOM_FIELDS.searchable(session, "deal", SEARCH), ...)``:
   ``custom_fields.<key>`` takes the operators of its type (ranges for number, money amount, date;
   ``contains_token`` for a multi_enum's value); ``sorts: [{"property": "custom_fields.<key>"}]``
   orders by the field's indexed expression (not a multi_enum, not an archived field), records
   without a value last in both directions (``search._nulls_last_page``).
7. Erasure. Where the service erases a record's personal data,
   ``record.custom_fields = await CUSTOM_FIELDS.erase(session, "deal", record.custom_fields)``.
8. Exports. ``custom_fields`` is one JSON column of the export (an object, as the API shows it).
"""

from tessera_shared.custom_fields.model import (
    FIELD_NAME,
    CustomFieldValues,
    Definition,
    DefinitionIn,
    DefinitionList,
    DefinitionOut,
    DefinitionPatch,
    validate_values,
)
from tessera_shared.custom_fields.service import Bound, CustomFields
from tessera_shared.custom_fields.sql import PROPERTY_PATTERN
from tessera_shared.custom_fields.tables import custom_fields_column, definitions_table

__all__ = [
    "FIELD_NAME",
    "PROPERTY_PATTERN",
    "Bound",
    "CustomFieldValues",
    "CustomFields",
    "Definition",
    "DefinitionIn",
    "DefinitionList",
    "DefinitionOut",
    "DefinitionPatch",
    "custom_fields_column",
    "definitions_table",
    "validate_values",
]
