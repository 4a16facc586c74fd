"""Workflow platform: process types from the registry, the work queue, escalation, absence, history.

- `process.type` becomes text (a process is declared in the registry, not in a database enum), with the
  process's title, who actually started it (the support desk acting for a requester) and the version of
  the flow its run started on;
- `org_unit.lineage`: the ids from the national root down to the unit, kept by a trigger — "in the
  subtree of X" is one indexed array test;
- approval tasks: claim, escalation level, reminders sent, "offered in someone's absence";
- absences of admins;
- indexes for the queue, the processes list and a process's audit history.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LINEAGE = r"""
CREATE FUNCTION aikom_org_lineage() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.parent_id IS NULL THEN
    NEW.lineage := ARRAY[NEW.id];
  ELSE
    SELECT lineage || NEW.id INTO NEW.lineage FROM org_unit WHERE id = NEW.parent_id;
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER org_unit_lineage
BEFORE INSERT OR UPDATE OF parent_id ON org_unit
FOR EACH ROW EXECUTE FUNCTION aikom_org_lineage();

-- A unit moved under another parent takes its descendants with it.
CREATE FUNCTION aikom_org_lineage_descendants() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE org_unit
     SET lineage = NEW.lineage || lineage[array_position(lineage, NEW.id) + 1:]
   WHERE lineage @> ARRAY[NEW.id] AND id <> NEW.id;
  RETURN NULL;
END $$;

CREATE TRIGGER org_unit_lineage_descendants
AFTER UPDATE OF parent_id ON org_unit
FOR EACH ROW WHEN (OLD.parent_id IS DISTINCT FROM NEW.parent_id)
EXECUTE FUNCTION aikom_org_lineage_descendants();

WITH RECURSIVE tree(id, lineage) AS (
  SELECT id, ARRAY[id] FROM org_unit WHERE parent_id IS NULL
  UNION ALL
  SELECT o.id, t.lineage || o.id FROM org_unit o JOIN tree t ON o.parent_id = t.id
)
UPDATE org_unit SET lineage = tree.lineage FROM tree WHERE org_unit.id = tree.id;
"""

LINEAGE_DOWN = r"""
DROP TRIGGER org_unit_lineage_descendants ON org_unit;
DROP FUNCTION aikom_org_lineage_descendants();
DROP TRIGGER org_unit_lineage ON org_unit;
DROP FUNCTION aikom_org_lineage();
"""


def upgrade() -> None:
    # Process types come from the registry.
    op.drop_constraint(op.f("ck_process_process_type"), "process", type_="check")
    op.alter_column("process", "type", type_=sa.String(64), existing_type=sa.String(32))
    op.add_column("process", sa.Column("title", sa.String(300), nullable=True))
    op.add_column("process", sa.Column("started_by_id", sa.Integer(), nullable=True))
    op.add_column("process", sa.Column("flow_version", sa.String(80), nullable=True))
    op.add_column("process", sa.Column("attention", sa.String(500), nullable=True))
    op.create_foreign_key(
        op.f("fk_process_started_by_id_person"),
        "process",
        "person",
        ["started_by_id"],
        ["id"],
        ondelete="RESTRICT",
    )
    op.execute(
        "UPDATE process SET title = 'Заміна керівника закладу освіти: ' || (parameters->>'school_name') "
        "WHERE type = 'director-replacement' AND parameters ? 'school_name'"
    )
    op.execute("UPDATE process SET type = 'demo-approval' WHERE parameters->>'flow' = 'demo-approval'")
    op.create_index("ix_process_created_at", "process", ["created_at"])
    op.create_index("ix_process_subject", "process", ["subject_org_unit_id", "created_at"])
    op.create_index("ix_process_requester", "process", ["requester_person_id", "created_at"])
    op.create_index("ix_process_type_state", "process", ["type", "state"])
    op.create_index("ix_process_started_by", "process", ["started_by_id"])

    # Subtrees as one indexed array test.
    op.add_column(
        "org_unit",
        sa.Column("lineage", postgresql.ARRAY(sa.Integer()), nullable=False, server_default=sa.text("'{}'")),
    )
    op.execute(LINEAGE)
    op.create_index("ix_org_unit_lineage", "org_unit", ["lineage"], postgresql_using="gin")
    # "Below the oblast/rayon/hromada/school X" is `lineage[depth] = X`: a B-tree per depth.
    for depth in (2, 3, 4, 5):
        op.execute(f"CREATE INDEX ix_org_unit_lineage_{depth} ON org_unit ((lineage[{depth}]))")

    # The work queue: claims, escalation, reminders, absence hand-over.
    for new_column in (
        sa.Column("claimed_by_id", sa.Integer(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reminders", postgresql.JSONB(), nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("absence_of_id", sa.Integer(), nullable=True),
    ):
        op.add_column("approval_task", new_column)
    for column in ("claimed_by_id", "absence_of_id"):
        op.create_foreign_key(
            op.f(f"fk_approval_task_{column}_person"),
            "approval_task",
            "person",
            [column],
            ["id"],
            ondelete="RESTRICT",
        )
    op.create_index(
        "ix_approval_task_open_due",
        "approval_task",
        ["due_at", "id"],
        postgresql_where=sa.text("state = 'open'"),
    )
    op.create_index("ix_approval_task_process", "approval_task", ["process_id"])
    op.execute(
        "CREATE INDEX ix_approval_task_open_roles ON approval_task USING gin (allowed_roles jsonb_path_ops) "
        "WHERE state = 'open'"
    )
    op.create_index(
        "ix_approval_task_open_scope",
        "approval_task",
        ["scope_org_unit_id"],
        postgresql_where=sa.text("state = 'open'"),
    )

    op.create_table(
        "absence",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("note", sa.String(300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("ends_on >= starts_on", name=op.f("ck_absence_ends_after_start")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_absence_person_id_person"), ondelete="RESTRICT"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_absence")),
    )
    op.create_index("ix_absence_person", "absence", ["person_id", "ends_on"])

    # A process's audit history: entries about it and entries that name it.
    op.create_index("ix_audit_entry_object", "audit_entry", ["object_type", "object_id"])
    op.execute("CREATE INDEX ix_audit_entry_process_id ON audit_entry ((details->>'process_id'))")


def downgrade() -> None:
    op.execute("DROP INDEX ix_audit_entry_process_id")
    op.drop_index("ix_audit_entry_object", table_name="audit_entry")
    op.drop_index("ix_absence_person", table_name="absence")
    op.drop_table("absence")
    op.drop_index("ix_approval_task_open_scope", table_name="approval_task")
    op.execute("DROP INDEX ix_approval_task_open_roles")
    op.drop_index("ix_approval_task_process", table_name="approval_task")
    op.drop_index("ix_approval_task_open_due", table_name="approval_task")
    for column in ("absence_of_id", "claimed_by_id"):
        op.drop_constraint(op.f(f"fk_approval_task_{column}_person"), "approval_task", type_="foreignkey")
    for column in (
        "absence_of_id",
        "reminders",
        "escalated_at",
        "escalation_level",
        "claimed_at",
        "claimed_by_id",
    ):
        op.drop_column("approval_task", column)
    for depth in (2, 3, 4, 5):
        op.execute(f"DROP INDEX ix_org_unit_lineage_{depth}")
    op.drop_index("ix_org_unit_lineage", table_name="org_unit")
    op.execute(LINEAGE_DOWN)
    op.drop_column("org_unit", "lineage")
    for index in (
        "ix_process_type_state",
        "ix_process_requester",
        "ix_process_subject",
        "ix_process_created_at",
    ):
        op.drop_index(index, table_name="process")
    op.drop_constraint(op.f("fk_process_started_by_id_person"), "process", type_="foreignkey")
    for column in ("attention", "flow_version", "started_by_id", "title"):
        op.drop_column("process", column)
    op.execute("UPDATE process SET type = 'support-request' WHERE type = 'demo-approval'")
    op.alter_column("process", "type", type_=sa.String(32), existing_type=sa.String(64))
    process_types = (
        "cascade-provisioning", "director-replacement", "deputy", "branch", "new-school", "ois-connection",
        "ois-access", "key-regeneration", "account-deactivation", "support-request",
    )  # fmt: skip
    allowed = ", ".join(f"'{t}'" for t in process_types)
    op.create_check_constraint("process_type", "process", f"type IN ({allowed})")
