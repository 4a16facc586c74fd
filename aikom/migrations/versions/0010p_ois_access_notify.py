"""ОІС access decision point: changes of keys, accounts, ОІС, phases and grants are announced.

Each row change of `access_key`, `account`, `ois`, `ois_phase` and `ois_grant` sends
`NOTIFY aikom_ois_access, '<table>:<id>'` (for `ois_phase` the id of its ОІС), delivered when the
transaction commits. The decision point keeps an in-memory snapshot of these tables and re-reads the
rows named, so a revocation, deactivation or suspension counts for the next request after its commit.

Revision ID: 0010p
Revises: 0009o
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010p"
down_revision: str | None = "0009o"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "aikom_ois_access"
TABLES = ("access_key", "account", "ois", "ois_phase", "ois_grant")

FUNCTION = f"""
CREATE OR REPLACE FUNCTION aikom_ois_access_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'ois_phase' THEN
        IF TG_OP <> 'INSERT' THEN
            PERFORM pg_notify('{CHANNEL}', 'ois_phase:' || OLD.ois_id);
        END IF;
        IF TG_OP <> 'DELETE' THEN
            PERFORM pg_notify('{CHANNEL}', 'ois_phase:' || NEW.ois_id);
        END IF;
    ELSIF TG_OP = 'DELETE' THEN
        PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME || ':' || OLD.id);
    ELSE
        PERFORM pg_notify('{CHANNEL}', TG_TABLE_NAME || ':' || NEW.id);
    END IF;
    RETURN NULL;
END
$$;
"""


def upgrade() -> None:
    op.execute(FUNCTION)
    for table in TABLES:
        op.execute(
            f"CREATE TRIGGER trg_{table}_ois_access_notify AFTER INSERT OR UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION aikom_ois_access_notify()"
        )


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS trg_{table}_ois_access_notify ON {table}")
    op.execute("DROP FUNCTION IF EXISTS aikom_ois_access_notify()")
