"""rate_counters_take: one key's take as one call on PostgreSQL (lock, sum, count)

Revision ID: a93f51c0d2b4
Revises: 324950ae2aa4
Create Date: 2026-12-05 00:10:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "a93f51c0d2b4"
down_revision: str | None = "324950ae2aa4"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A take (tessera_gateway/limits/store.py): the key's advisory lock first, so that the statement
# after it, with a snapshot of its own (a volatile function at READ COMMITTED), sees every
# earlier take of the key; then the sum of the key's other slices in the window and the current
# slice's count, incremented only while within the limit. Called in autocommit: the lock ends
# with the call. out_n is NULL when the take is refused.
TAKE = """
CREATE OR REPLACE FUNCTION rate_counters_take(
    p_key varchar, p_first bigint, p_cur bigint, p_expires bigint, p_limit bigint, p_lock bigint
) RETURNS TABLE (out_used bigint, out_oldest bigint, out_n integer)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock);
    RETURN QUERY
    WITH prior AS (
        SELECT coalesce(sum(r.n), 0)::bigint AS used, min(r.start) AS oldest
        FROM rate_counters r
        WHERE r.key = p_key AND r.start >= p_first AND r.start <> p_cur
    ), bumped AS (
        INSERT INTO rate_counters AS c (key, start, n, expires)
        SELECT p_key, p_cur, 1, p_expires FROM prior WHERE prior.used < p_limit
        ON CONFLICT (key, start) DO UPDATE SET n = c.n + 1
        WHERE c.n + (SELECT prior.used FROM prior) < p_limit
        RETURNING c.n
    )
    SELECT (SELECT prior.used FROM prior), (SELECT prior.oldest FROM prior), (SELECT bumped.n FROM bumped);
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(TAKE)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS rate_counters_take(varchar, bigint, bigint, bigint, bigint, bigint)")
