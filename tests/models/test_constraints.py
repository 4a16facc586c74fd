"""The database itself keeps the data true: cascade levels, finality, uniqueness, append-only audit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from aikom.models import (
    AccountState,
    AuditEntry,
    DeactivationReason,
    OrgLevel,
    OrgStatus,
    PersonRole,
    PersonState,
)
from aikom.models.account import Account
from tests import factories as f


def test_cascade_accepts_each_level_under_the_one_above(session: Session) -> None:
    units = f.cascade(session)
    branch = f.org_unit(session, level=OrgLevel.BRANCH, parent=units["school"])
    assert branch.id is not None


@pytest.mark.parametrize(
    ("parent_key", "level"),
    [
        ("school", OrgLevel.HROMADA),
        ("rayon", OrgLevel.OBLAST),
        ("hromada", OrgLevel.BRANCH),
        ("oblast", OrgLevel.OBLAST),
    ],
)
def test_unit_cannot_be_placed_at_or_above_its_parent_level(
    session: Session, parent_key: str, level: OrgLevel
) -> None:
    units = f.cascade(session)
    with pytest.raises(IntegrityError, match=r"cannot be placed|must be placed"):
        f.org_unit(session, level=level, parent=units[parent_key])


def test_only_the_national_unit_is_a_root(session: Session) -> None:
    with pytest.raises(IntegrityError, match="only_national_is_root"):
        f.org_unit(session, level=OrgLevel.OBLAST)


def test_deactivated_school_account_can_never_become_active_again(session: Session) -> None:
    units = f.cascade(session)
    acc = f.account(session, units["school"])
    acc.state = AccountState.DEACTIVATED
    acc.deactivation_reason = DeactivationReason.LIQUIDATION
    session.flush()
    with pytest.raises(IntegrityError, match="finally deactivated"):
        session.execute(
            update(Account).where(Account.id == acc.id).values(state="active", deactivation_reason=None)
        )


def test_deactivated_school_account_cannot_be_deleted(session: Session) -> None:
    units = f.cascade(session)
    acc = f.account(session, units["school"])
    acc.state = AccountState.DEACTIVATED
    acc.deactivation_reason = DeactivationReason.CYBER_INCIDENT
    session.flush()
    with pytest.raises(IntegrityError, match="finally deactivated"):
        session.execute(delete(Account).where(Account.id == acc.id))


def test_deactivated_oblast_account_may_be_reactivated(session: Session) -> None:
    units = f.cascade(session)
    acc = f.account(session, units["oblast"])
    acc.state = AccountState.DEACTIVATED
    acc.deactivation_reason = DeactivationReason.REORGANIZATION
    session.flush()
    acc.state = AccountState.ACTIVE
    acc.deactivation_reason = None
    session.flush()
    assert acc.state == AccountState.ACTIVE


def test_deactivation_needs_a_reason(session: Session) -> None:
    units = f.cascade(session)
    acc = f.account(session, units["school"])
    acc.state = AccountState.DEACTIVATED
    with pytest.raises(IntegrityError, match="reason_iff_deactivated"):
        session.flush()


def test_one_account_per_unit(session: Session) -> None:
    units = f.cascade(session)
    f.account(session, units["school"])
    with pytest.raises(IntegrityError, match="uq_account_org_unit_id"):
        f.account(session, units["school"])


def test_one_current_director_per_school(session: Session) -> None:
    units = f.cascade(session)
    acc = f.account(session, units["school"])
    f.person(session, acc, role=PersonRole.DIRECTOR, state=PersonState.ACTIVE)
    f.person(session, acc, role=PersonRole.DIRECTOR, state=PersonState.INACTIVE)
    with pytest.raises(IntegrityError, match="uq_person_current_director"):
        f.person(session, acc, role=PersonRole.DIRECTOR, state=PersonState.PENDING)


def test_edrpou_unique_among_active_units_only(session: Session) -> None:
    units = f.cascade(session)
    f.org_unit(
        session,
        level=OrgLevel.SCHOOL,
        parent=units["hromada"],
        edrpou="20077720",
        status=OrgStatus.LIQUIDATED,
    )
    f.org_unit(session, level=OrgLevel.SCHOOL, parent=units["hromada"], edrpou="20077720")
    with pytest.raises(IntegrityError, match="uq_org_unit_active_edrpou"):
        f.org_unit(session, level=OrgLevel.SCHOOL, parent=units["hromada"], edrpou="20077720")


def test_edrpou_and_katottg_formats(session: Session) -> None:
    units = f.cascade(session)
    with pytest.raises(IntegrityError, match="edrpou_format"):
        f.org_unit(session, level=OrgLevel.SCHOOL, parent=units["hromada"], edrpou="1234")


def _audit_row() -> AuditEntry:
    return AuditEntry(
        at=datetime.now(UTC),
        actor_label="test",
        action="test",
        object_type="x",
        details={},
        prev_hash=b"\0" * 32,
        entry_hash=b"\1" * 32,
    )


def test_audit_log_refuses_update_and_delete(session: Session) -> None:
    entry = _audit_row()
    session.add(entry)
    session.flush()
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(update(AuditEntry).where(AuditEntry.id == entry.id).values(action="edited"))
    with pytest.raises(DBAPIError, match="append-only"), session.begin_nested():
        session.execute(delete(AuditEntry).where(AuditEntry.id == entry.id))


def test_each_unit_knows_its_lineage_and_a_move_carries_its_subtree(session: Session) -> None:
    units = f.cascade(session)
    ids = [units[level].id for level in ("national", "oblast", "rayon", "hromada", "school")]
    assert units["school"].lineage == ids  # kept by the database, from the root down
    other_rayon = f.org_unit(session, level=OrgLevel.RAYON, parent=units["oblast"])

    units["hromada"].parent_id = other_rayon.id  # a hromada moved to another rayon
    session.flush()
    for unit in units.values():
        session.refresh(unit)

    assert units["hromada"].lineage == [ids[0], ids[1], other_rayon.id, ids[3]]
    assert units["school"].lineage == [ids[0], ids[1], other_rayon.id, ids[3], ids[4]]
    assert units["rayon"].lineage == ids[:3]
