"""rate_counters_take_up_to: a replica's lease of several units of one key's limit in one call

Revision ID: b4e2d9a7c613
Revises: e7a1c4b90d3f
Create Date: 2026-12-05 02:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "b4e2d9a7c613"
down_revision: str | None = "e7a1c4b90d3f"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Like rate_counters_take (a93f51c0d2b4), but counts up to p_want units at once, as many as the
# window still holds: the units a gateway replica then admits from memory (limits/leased.py).
# out_granted is how many were counted (0: refused); out_n the current slice's count after.
TAKE_UP_TO = """
CREATE OR REPLACE FUNCTION rate_counters_take_up_to(
    p_key varchar, p_first bigint, p_cur bigint, p_expires bigint, p_limit bigint, p_lock bigint, p_want integer
) RETURNS TABLE (out_used bigint, out_oldest bigint, out_n integer, out_granted integer)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_used bigint;
    v_oldest bigint;
    v_cur integer;
    v_grant integer;
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock);
    SELECT coalesce(sum(r.n), 0)::bigint, min(r.start) INTO v_used, v_oldest
    FROM rate_counters r
    WHERE r.key = p_key AND r.start >= p_first AND r.start <> p_cur;
    SELECT r.n INTO v_cur FROM rate_counters r WHERE r.key = p_key AND r.start = p_cur;
    v_grant := least(p_want::bigint, greatest(0, p_limit - v_used - coalesce(v_cur, 0)))::integer;
    IF v_grant > 0 THEN
        INSERT INTO rate_counters AS c (key, start, n, expires) VALUES (p_key, p_cur, v_grant, p_expires)
        ON CONFLICT (key, start) DO UPDATE SET n = c.n + v_grant
        RETURNING c.n INTO v_cur;
    END IF;
    RETURN QUERY SELECT v_used, v_oldest, v_cur, v_grant;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(TAKE_UP_TO)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DROP FUNCTION IF EXISTS rate_counters_take_up_to(varchar, bigint, bigint, bigint, bigint, bigint, integer)"
        )
