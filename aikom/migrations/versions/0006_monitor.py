"""The managers' monitor: the facts its figures group by, kept on the rows they describe.

- `process.subject_path`: the lineage of the process's subject unit (ids from the national root down),
  kept by triggers (on insert, when the subject changes, when the unit moves in the tree): "in the
  subtree of X" and "per unit one level down" are read from the row, with no join to `org_unit`;
- `approval_task.process_type` and `approval_task.subject_path`: the same, copied from its process by a
  trigger, so that the figures about steps read one table;
- `process.business_days` and `approval_task.business_days`: working time from start to finish (from
  a step's opening to its decision) on the business calendar, written by the reconciler for the rows
  that finished since its last pass — percentiles read a plain column;
- indexes: by subtree (per depth), by the moment a process or step finished, open steps by age, and
  the rows the reconciler has yet to measure;
- summaries the reconciler refreshes for the two scopes whose live figures read tens of thousands of
  rows — the whole country and an oblast: `monitor_open` (open processes and steps by oblast, rayon,
  type and state or step), `monitor_day` (per Kyiv day, oblast and type: processes finished by state and
  steps decided by step, each with the durations themselves, so that percentiles stay exact) and
  `monitor_units` (units and their accounts by oblast, rayon and level), `monitor_recent` (the
  durations' percentiles over the default period, the last 30 days); `monitor_refresh` says when.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "state IN ('starting', 'running', 'waiting')"
DEPTHS = (2, 3, 4)  # oblast, rayon, hromada: the units whose subtree a monitor shows

TRIGGERS = r"""
CREATE FUNCTION aikom_process_subject_path() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.subject_path := (SELECT lineage FROM org_unit WHERE id = NEW.subject_org_unit_id);
  RETURN NEW;
END $$;

CREATE TRIGGER process_subject_path
BEFORE INSERT OR UPDATE OF subject_org_unit_id ON process
FOR EACH ROW EXECUTE FUNCTION aikom_process_subject_path();

CREATE FUNCTION aikom_task_process_facts() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  SELECT type, subject_path INTO NEW.process_type, NEW.subject_path FROM process WHERE id = NEW.process_id;
  RETURN NEW;
END $$;

CREATE TRIGGER approval_task_process_facts
BEFORE INSERT OR UPDATE OF process_id ON approval_task
FOR EACH ROW EXECUTE FUNCTION aikom_task_process_facts();

CREATE FUNCTION aikom_process_path_to_tasks() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE approval_task SET subject_path = NEW.subject_path WHERE process_id = NEW.id;
  RETURN NULL;
END $$;

CREATE TRIGGER process_path_to_tasks
AFTER UPDATE ON process
FOR EACH ROW WHEN (OLD.subject_path IS DISTINCT FROM NEW.subject_path)
EXECUTE FUNCTION aikom_process_path_to_tasks();

-- A unit moved in the tree (a school placed under its hromada) takes its processes with it.
CREATE FUNCTION aikom_org_path_to_processes() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE process SET subject_path = NEW.lineage WHERE subject_org_unit_id = NEW.id;
  RETURN NULL;
END $$;

CREATE TRIGGER org_unit_path_to_processes
AFTER UPDATE ON org_unit
FOR EACH ROW WHEN (OLD.lineage IS DISTINCT FROM NEW.lineage)
EXECUTE FUNCTION aikom_org_path_to_processes();

UPDATE process p SET subject_path = u.lineage FROM org_unit u WHERE u.id = p.subject_org_unit_id;
UPDATE approval_task t SET process_type = p.type, subject_path = p.subject_path
  FROM process p WHERE p.id = t.process_id;
"""

TRIGGERS_DOWN = r"""
DROP TRIGGER org_unit_path_to_processes ON org_unit;
DROP FUNCTION aikom_org_path_to_processes();
DROP TRIGGER process_path_to_tasks ON process;
DROP FUNCTION aikom_process_path_to_tasks();
DROP TRIGGER approval_task_process_facts ON approval_task;
DROP FUNCTION aikom_task_process_facts();
DROP TRIGGER process_subject_path ON process;
DROP FUNCTION aikom_process_subject_path();
"""


def upgrade() -> None:
    op.add_column("process", sa.Column("subject_path", postgresql.ARRAY(sa.Integer()), nullable=True))
    op.add_column("process", sa.Column("business_days", sa.Float(), nullable=True))
    op.add_column("approval_task", sa.Column("process_type", sa.String(64), nullable=True))
    op.add_column("approval_task", sa.Column("subject_path", postgresql.ARRAY(sa.Integer()), nullable=True))
    op.add_column("approval_task", sa.Column("business_days", sa.Float(), nullable=True))
    op.execute(TRIGGERS)
    op.alter_column("approval_task", "process_type", nullable=False)  # the trigger fills it on insert
    for depth in DEPTHS:
        op.execute(f"CREATE INDEX ix_process_path_{depth} ON process ((subject_path[{depth}]))")
        op.execute(
            f"CREATE INDEX ix_process_open_path_{depth} ON process ((subject_path[{depth}])) WHERE {OPEN}"
        )
        op.execute(
            f"CREATE INDEX ix_approval_task_open_path_{depth} ON approval_task ((subject_path[{depth}])) "
            "WHERE state = 'open'"
        )
        op.execute(
            f"CREATE INDEX ix_approval_task_decided_path_{depth} ON approval_task "
            f"((subject_path[{depth}]), decided_at) WHERE decided_at IS NOT NULL"
        )
    # Covering indexes: the figures of a whole country are read from the index alone (index-only scans),
    # never from the table's pages.
    op.execute(
        "CREATE INDEX ix_process_finished ON process (finished_at) "
        "INCLUDE (type, state, created_at, business_days, subject_path) WHERE finished_at IS NOT NULL"
    )
    op.execute(f"CREATE INDEX ix_process_open ON process (type, state) INCLUDE (subject_path) WHERE {OPEN}")
    op.create_index(
        "ix_process_unmeasured",
        "process",
        ["id"],
        postgresql_where=sa.text("finished_at IS NOT NULL AND business_days IS NULL"),
    )
    op.execute(
        "CREATE INDEX ix_approval_task_decided ON approval_task (decided_at) "
        "INCLUDE (process_type, step_key, created_at, business_days, subject_path) WHERE decided_at IS NOT NULL"
    )
    op.execute(
        "CREATE INDEX ix_approval_task_open_facts ON approval_task (process_type) "
        "INCLUDE (step_key, subject_path, due_at, escalation_level) WHERE state = 'open'"
    )
    op.create_index(
        "ix_approval_task_open_created",
        "approval_task",
        ["created_at", "id"],
        postgresql_where=sa.text("state = 'open'"),
    )
    # The worst breaches first: the most escalated, then the longest overdue.
    op.execute(
        "CREATE INDEX ix_approval_task_open_breach ON approval_task (escalation_level DESC, due_at) "
        "WHERE state = 'open'"
    )
    # The weekly digest's managers.
    op.execute(
        "CREATE INDEX ix_person_active_manager ON person (id) WHERE role = 'manager' AND state = 'active'"
    )
    op.create_index(
        "ix_approval_task_unmeasured",
        "approval_task",
        ["id"],
        postgresql_where=sa.text("decided_at IS NOT NULL AND business_days IS NULL"),
    )

    op.create_table(
        "monitor_open",
        sa.Column("oblast_id", sa.Integer(), nullable=False),  # 0: a subject above the oblasts
        sa.Column("rayon_id", sa.Integer(), nullable=False),  # 0: none
        sa.Column("process_type", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),  # "process" (item: state) or "step" (item: step)
        sa.Column("item", sa.String(100), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("overdue", sa.Integer(), nullable=False),
        sa.Column("escalated", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "oblast_id", "rayon_id", "process_type", "kind", "item", name=op.f("pk_monitor_open")
        ),
    )
    op.create_table(
        "monitor_day",
        sa.Column("day", sa.Date(), nullable=False),  # Kyiv date the process finished or the step was decided
        sa.Column("oblast_id", sa.Integer(), nullable=False),  # 0: the whole country
        sa.Column("process_type", sa.String(64), nullable=False),
        sa.Column(
            "kind", sa.String(10), nullable=False
        ),  # "process" (item: final state) or "step" (item: step)
        sa.Column("item", sa.String(100), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("hours", postgresql.ARRAY(sa.Float()), nullable=False),
        sa.Column("business_days", postgresql.ARRAY(sa.Float()), nullable=False),
        sa.PrimaryKeyConstraint(
            "day", "oblast_id", "process_type", "kind", "item", name=op.f("pk_monitor_day")
        ),
    )
    op.create_table(
        "monitor_units",
        sa.Column("oblast_id", sa.Integer(), nullable=False),
        sa.Column("rayon_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(20), nullable=False),
        sa.Column("units", sa.Integer(), nullable=False),  # active units
        sa.Column("active", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.Column("suspended", sa.Integer(), nullable=False),
        sa.Column("deactivated", sa.Integer(), nullable=False),
        sa.Column("without_account", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("oblast_id", "rayon_id", "level", name=op.f("pk_monitor_units")),
    )
    op.create_table(
        "monitor_recent",  # durations over the default period (the last 30 days), computed each pass
        sa.Column("oblast_id", sa.Integer(), nullable=False),  # 0: the whole country
        sa.Column("process_type", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("item", sa.String(100), nullable=False),  # "" for a process end to end
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("hours", postgresql.ARRAY(sa.Float()), nullable=True),  # [p50, p90]
        sa.Column("business_days", postgresql.ARRAY(sa.Float()), nullable=True),  # [p50, p90]
        sa.Column("total_hours", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("oblast_id", "process_type", "kind", "item", name=op.f("pk_monitor_recent")),
    )
    op.create_table(
        "monitor_refresh",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_monitor_refresh_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_monitor_refresh")),
    )


def downgrade() -> None:
    for table in ("monitor_refresh", "monitor_recent", "monitor_units", "monitor_day", "monitor_open"):
        op.drop_table(table)
    for index in (
        "ix_person_active_manager",
        "ix_approval_task_open_breach",
        "ix_approval_task_unmeasured",
        "ix_approval_task_open_created",
        "ix_approval_task_decided_at",
    ):
        op.drop_index(index, table_name="approval_task")
    for index in ("ix_process_unmeasured", "ix_process_open", "ix_process_finished_at"):
        op.drop_index(index, table_name="process")
    for depth in DEPTHS:
        op.execute(f"DROP INDEX ix_approval_task_decided_path_{depth}")
        op.execute(f"DROP INDEX ix_approval_task_open_path_{depth}")
        op.execute(f"DROP INDEX ix_process_open_path_{depth}")
        op.execute(f"DROP INDEX ix_process_path_{depth}")
    op.execute(TRIGGERS_DOWN)
    for column in ("business_days", "subject_path", "process_type"):
        op.drop_column("approval_task", column)
    for column in ("business_days", "subject_path"):
        op.drop_column("process", column)
