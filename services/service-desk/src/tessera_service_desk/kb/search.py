"""Full-text search over articles: one interface, one implementation per database.

PostgreSQL: a trigger-kept ``tsvector`` with a GIN index (see the migration), queried with
``websearch_to_tsquery`` and ranked by ``ts_rank``. SQLite: an FTS5 table over the articles,
kept by triggers, ranked by ``bm25``. The FTS5 index is derived data, so the service creates
(and if needed rebuilds) it at start rather than in a migration.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Protocol

from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tessera_shared.db import dialect_name

_SQLITE_SETUP = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS kb_articles_fts USING fts5("
    "title, body, content='kb_articles', content_rowid='rowid', tokenize='porter unicode61')",
    "CREATE TRIGGER IF NOT EXISTS kb_articles_fts_ai AFTER INSERT ON kb_articles BEGIN "
    "INSERT INTO kb_articles_fts(rowid, title, body) VALUES (new.rowid, new.title, new.body); END",
    "CREATE TRIGGER IF NOT EXISTS kb_articles_fts_ad AFTER DELETE ON kb_articles BEGIN "
    "INSERT INTO kb_articles_fts(kb_articles_fts, rowid, title, body) "
    "VALUES ('delete', old.rowid, old.title, old.body); END",
    "CREATE TRIGGER IF NOT EXISTS kb_articles_fts_au AFTER UPDATE OF title, body ON kb_articles BEGIN "
    "INSERT INTO kb_articles_fts(kb_articles_fts, rowid, title, body) "
    "VALUES ('delete', old.rowid, old.title, old.body); "
    "INSERT INTO kb_articles_fts(rowid, title, body) VALUES (new.rowid, new.title, new.body); END",
]
_TRIGGERS = ("kb_articles_fts_ai", "kb_articles_fts_ad", "kb_articles_fts_au")


async def prepare_search(app: FastAPI) -> None:
    """The service's start hook: prepares the search index of the app's database."""
    await prepare_search_index(app.state.runtime.engine)


async def prepare_search_index(engine: AsyncEngine) -> None:
    """On SQLite, make sure the FTS5 index and its triggers exist; rebuild it when they did not."""
    if engine.dialect.name != "sqlite":
        return
    async with engine.begin() as conn:
        found = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND name IN ('kb_articles_fts_ai', "
                    "'kb_articles_fts_ad', 'kb_articles_fts_au')"
                )
            )
        ).scalar_one()
        if found == len(_TRIGGERS):
            return
        for statement in _SQLITE_SETUP:
            await conn.execute(text(statement))
        # Articles written while the triggers were missing (or before) enter the index now.
        await conn.execute(text("INSERT INTO kb_articles_fts(kb_articles_fts) VALUES ('rebuild')"))


_WORD = re.compile(r"\w+", re.UNICODE)


def fts5_query(q: str) -> str | None:
    """User text to a safe FTS5 query: every word must match (quoted, so no FTS syntax leaks in)."""
    words = _WORD.findall(q)
    return " ".join(f'"{w}"' for w in words) if words else None


class ArticleSearch(Protocol):
    async def search(self, session: AsyncSession, q: str, *, status: str, limit: int) -> list[uuid.UUID]: ...


class PostgresArticleSearch:
    async def search(self, session: AsyncSession, q: str, *, status: str, limit: int) -> list[uuid.UUID]:
        rows = await session.execute(
            text(
                "SELECT id FROM kb_articles, websearch_to_tsquery('english', :q) AS query "
                "WHERE search_vector @@ query AND status = :status "
                "ORDER BY ts_rank(search_vector, query) DESC, id LIMIT :limit"
            ),
            {"q": q, "status": status, "limit": limit},
        )
        return [r[0] for r in rows]


class SqliteArticleSearch:
    async def search(self, session: AsyncSession, q: str, *, status: str, limit: int) -> list[uuid.UUID]:
        match = fts5_query(q)
        if match is None:
            return []
        rows = await session.execute(
            text(
                "SELECT a.id FROM kb_articles_fts JOIN kb_articles AS a ON a.rowid = kb_articles_fts.rowid "
                "WHERE kb_articles_fts MATCH :match AND a.status = :status "
                "ORDER BY bm25(kb_articles_fts, 4.0, 1.0), a.id LIMIT :limit"
            ),
            {"match": match, "status": status, "limit": limit},
        )
        return [_uuid(r[0]) for r in rows]


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))


def search_for(session: AsyncSession) -> ArticleSearch:
    return PostgresArticleSearch() if dialect_name(session) == "postgresql" else SqliteArticleSearch()
