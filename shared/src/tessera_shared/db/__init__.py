"""Async database access that runs the same code on PostgreSQL (asyncpg) and SQLite (aiosqlite).

The package's parts: ``schema`` (metadata, table access, dialect-aware statements), ``ids``
(UTC now, time-ordered ids), ``types`` (column types), ``engines`` (engines, session makers),
``sessions`` (read sessions, the unit of work). Their public names are importable from here,
and migrations name the column types as ``tessera_shared.db.UTCDateTime`` / ``.Money``.
"""

from tessera_shared.db import model_defaults
from tessera_shared.db.engines import SessionLimits, create_engine, is_sqlite, session_factory
from tessera_shared.db.ids import new_id, utcnow
from tessera_shared.db.schema import NAMING_CONVENTION, affected_rows, dialect_name, new_metadata, table_of, upsert
from tessera_shared.db.sessions import READ_ONLY, ReadOnlySessionError, read_connection, read_session, unit_of_work
from tessera_shared.db.types import JSONType, Money, MoneySum, UTCDateTime

model_defaults.install()  # record models' default factories asked about once (see the module)

__all__ = [
    "NAMING_CONVENTION",
    "READ_ONLY",
    "JSONType",
    "Money",
    "MoneySum",
    "ReadOnlySessionError",
    "SessionLimits",
    "UTCDateTime",
    "affected_rows",
    "create_engine",
    "dialect_name",
    "is_sqlite",
    "new_id",
    "new_metadata",
    "read_connection",
    "read_session",
    "session_factory",
    "table_of",
    "unit_of_work",
    "upsert",
    "utcnow",
]
