"""Rules the database itself enforces: cascade levels, final school deactivation, append-only audit.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


UPGRADE = r"""
CREATE FUNCTION aikom_level_rank(level text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT AS $$
  SELECT CASE level
    WHEN 'national' THEN 0 WHEN 'oblast' THEN 1 WHEN 'rayon' THEN 2
    WHEN 'hromada' THEN 3 WHEN 'school' THEN 4 WHEN 'branch' THEN 5 END
$$;

-- A unit's level lies below its parent's; a branch hangs under a school.
CREATE FUNCTION aikom_check_org_level() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE parent_level text;
BEGIN
  IF NEW.parent_id IS NULL THEN
    RETURN NEW;
  END IF;
  SELECT level INTO parent_level FROM org_unit WHERE id = NEW.parent_id;
  IF aikom_level_rank(parent_level) >= aikom_level_rank(NEW.level) THEN
    RAISE EXCEPTION 'org unit level % cannot be placed under %', NEW.level, parent_level
      USING ERRCODE = 'check_violation', CONSTRAINT = 'org_unit_level_below_parent';
  END IF;
  IF NEW.level = 'branch' AND parent_level <> 'school' THEN
    RAISE EXCEPTION 'a branch must be placed under a school, not under %', parent_level
      USING ERRCODE = 'check_violation', CONSTRAINT = 'org_unit_level_below_parent';
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER org_unit_level_below_parent
BEFORE INSERT OR UPDATE OF parent_id, level ON org_unit
FOR EACH ROW EXECUTE FUNCTION aikom_check_org_level();

-- A deactivated school (or branch) account can never be used again: no state change, no deletion.
CREATE FUNCTION aikom_school_account_final() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE unit_level text;
BEGIN
  IF OLD.state <> 'deactivated' THEN
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
  END IF;
  SELECT level INTO unit_level FROM org_unit WHERE id = OLD.org_unit_id;
  IF unit_level IN ('school', 'branch') AND (
       TG_OP = 'DELETE'
       OR NEW.state IS DISTINCT FROM OLD.state
       OR NEW.org_unit_id IS DISTINCT FROM OLD.org_unit_id) THEN
    RAISE EXCEPTION 'account % of a school is finally deactivated and cannot be used again', OLD.id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'account_school_deactivation_final';
  END IF;
  RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

CREATE TRIGGER account_school_deactivation_final
BEFORE UPDATE OR DELETE ON account
FOR EACH ROW EXECUTE FUNCTION aikom_school_account_final();

-- The audit log is append-only.
CREATE FUNCTION aikom_audit_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_entry is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege', CONSTRAINT = 'audit_entry_append_only';
END $$;

CREATE TRIGGER audit_entry_append_only
BEFORE UPDATE OR DELETE ON audit_entry
FOR EACH ROW EXECUTE FUNCTION aikom_audit_append_only();

CREATE TRIGGER audit_entry_no_truncate
BEFORE TRUNCATE ON audit_entry
FOR EACH STATEMENT EXECUTE FUNCTION aikom_audit_append_only();
"""

DOWNGRADE = """
DROP TRIGGER audit_entry_no_truncate ON audit_entry;
DROP TRIGGER audit_entry_append_only ON audit_entry;
DROP FUNCTION aikom_audit_append_only();
DROP TRIGGER account_school_deactivation_final ON account;
DROP FUNCTION aikom_school_account_final();
DROP TRIGGER org_unit_level_below_parent ON org_unit;
DROP FUNCTION aikom_check_org_level();
DROP FUNCTION aikom_level_rank(text);
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
