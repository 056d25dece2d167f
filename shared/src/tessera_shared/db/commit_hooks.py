"""Work a transaction asks for once it has committed: ``after_commit(session, key, action)``.

The outbox relay's wake-up, the read caches' second clearing, the SQLite WAL shredding and the
job doorbells all follow a write that must be committed before they may act. Each registers an
action on the session; right after the transaction commits each action runs once with the
(sync) session, and a rollback drops them all. An action registered again under the same key in
one transaction replaces the first and runs once.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

_ACTIONS = "tessera.after_commit"

Action = Callable[[Session], None]


def after_commit(session: AsyncSession | Session, key: Hashable, action: Action) -> None:
    """Run ``action(session)`` once ``session``'s transaction commits (never if it rolls back)."""
    sync = session.sync_session if isinstance(session, AsyncSession) else session
    sync.info.setdefault(_ACTIONS, {})[key] = action


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for action in session.info.pop(_ACTIONS, {}).values():
        action(session)


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    session.info.pop(_ACTIONS, None)
