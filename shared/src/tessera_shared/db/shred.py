"""Erased personal data leaves an SQLite database's files too, not only its rows.

An UPDATE or DELETE that removes personal data (a customer's erasure) leaves the earlier page
images behind on disk. On SQLite in WAL mode they stay in the ``-wal`` file's earlier frames until
a checkpoint restarts the log and later writes overwrite them (hours on a quiet database: anyone
who reads the file finds the erased address in it); free space inside the database file is zeroed
by ``secure_delete``, which ``engines.create_engine`` turns on. ``shred_after_commit(session)``
marks a transaction: once it has committed, its SQLite database is checkpointed and its WAL
truncated to zero bytes (``PRAGMA wal_checkpoint(TRUNCATE)``, on a connection of its own, after
the commit, so the erasure itself is never undone by a failure here; the checkpoint waits for
readers of earlier snapshots within the busy timeout, and if some still read, it is logged and the
next shredding commit or checkpoint finishes it).

PostgreSQL keeps earlier row versions as dead tuples until VACUUM reclaims their space (their bytes
stay until reused) and in WAL segments until they are recycled or archived: no SQL statement
removes them at once. This module does nothing there; docs/domain.md (privacy) says so.
"""

from __future__ import annotations

import logging

from sqlalchemy import Engine
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from tessera_shared.db.commit_hooks import after_commit

log = logging.getLogger(__name__)

_SHRED_KEY = "tessera.shred_after_commit"


def shred_after_commit(session: AsyncSession | Session) -> None:
    """Once ``session``'s transaction commits, remove what its overwritten rows left in the
    database's files (SQLite: checkpoint and truncate the WAL; PostgreSQL: nothing)."""
    after_commit(session, _SHRED_KEY, _shred)


def truncate_wal(engine: Engine) -> bool:
    """Checkpoint ``engine``'s SQLite database and truncate its WAL; True when it completed.
    Runs where the engine's driver may be awaited (an async session's commit hooks)."""
    with engine.connect() as conn:
        # The driver's own cursor: no SQLAlchemy transaction (a checkpoint cannot run inside one).
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            row = cursor.fetchone()  # (busy, frames in the log, frames checkpointed)
        finally:
            cursor.close()
    return row is not None and not row[0]


def _shred(session: Session) -> None:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    if engine.dialect.name != "sqlite":
        return
    try:
        if not truncate_wal(engine):
            log.warning("shred: readers held the WAL of %s; its earlier frames go at the next checkpoint", engine.url)
    except Exception:  # the erasure has committed: report, never undo or fail it here
        log.exception("shred: the WAL of %s was not truncated", engine.url)
