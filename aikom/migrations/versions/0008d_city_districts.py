"""City districts: a level between the hromada and the school.

- `org_unit.level` accepts `district` (КАТОТТГ category B: the 108 districts of cities, each with its own
  education body; its admins have the hromada admin's role);
- `aikom_level_rank` ranks it between the hromada and the school, so that the trigger keeping a unit
  below its parent lets a district under its city (a hromada, or Kyiv and Sevastopol at the oblast level)
  and a school under a district;
- one more depth of the subtree indexes: a school under a district lies at depth 6 of `lineage`, and a
  district's processes are found by `subject_path[5]` (migration 0006 indexes depths 2–4).

Revision ID: 0008d
Revises: 0007
Create Date: 2026-11-30
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008d"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEVELS = ("national", "oblast", "rayon", "hromada", "school", "branch")
LEVELS_WITH_DISTRICT = ("national", "oblast", "rayon", "hromada", "district", "school", "branch")
OPEN = "state IN ('starting', 'running', 'waiting')"
DISTRICT_DEPTH = 5


def _rank_function(levels: Sequence[str]) -> str:
    cases = " ".join(f"WHEN '{level}' THEN {rank}" for rank, level in enumerate(levels))
    return (
        "CREATE OR REPLACE FUNCTION aikom_level_rank(level text) RETURNS integer\n"
        f"LANGUAGE sql IMMUTABLE STRICT AS $$ SELECT CASE level {cases} END $$;"
    )


def _level_check(levels: Sequence[str]) -> None:
    op.drop_constraint(op.f("ck_org_unit_org_level"), "org_unit", type_="check")
    allowed = ", ".join(f"'{level}'" for level in levels)
    op.create_check_constraint(op.f("ck_org_unit_org_level"), "org_unit", f"level IN ({allowed})")


def upgrade() -> None:
    _level_check(LEVELS_WITH_DISTRICT)
    op.execute(_rank_function(LEVELS_WITH_DISTRICT))
    op.execute("CREATE INDEX ix_org_unit_lineage_6 ON org_unit ((lineage[6]))")
    depth = DISTRICT_DEPTH
    op.execute(f"CREATE INDEX ix_process_path_{depth} ON process ((subject_path[{depth}]))")
    op.execute(f"CREATE INDEX ix_process_open_path_{depth} ON process ((subject_path[{depth}])) WHERE {OPEN}")
    op.execute(
        f"CREATE INDEX ix_approval_task_open_path_{depth} ON approval_task ((subject_path[{depth}])) "
        "WHERE state = 'open'"
    )
    op.execute(
        f"CREATE INDEX ix_approval_task_decided_path_{depth} ON approval_task "
        f"((subject_path[{depth}]), decided_at) WHERE decided_at IS NOT NULL"
    )


def downgrade() -> None:
    depth = DISTRICT_DEPTH
    for index in (
        f"ix_approval_task_decided_path_{depth}",
        f"ix_approval_task_open_path_{depth}",
        f"ix_process_open_path_{depth}",
        f"ix_process_path_{depth}",
        "ix_org_unit_lineage_6",
    ):
        op.execute(f"DROP INDEX {index}")
    # Districts cannot be kept: their schools move up to the city, then the districts go.
    op.execute(
        "UPDATE org_unit AS s SET parent_id = d.parent_id FROM org_unit AS d "
        "WHERE s.parent_id = d.id AND d.level = 'district'"
    )
    op.execute(
        "UPDATE org_unit AS s SET managing_body_id = d.parent_id FROM org_unit AS d "
        "WHERE s.managing_body_id = d.id AND d.level = 'district'"
    )
    op.execute("DELETE FROM org_unit WHERE level = 'district'")
    op.execute(_rank_function(LEVELS))
    _level_check(LEVELS)
