"""Account deactivation rules, without the engine: who may start it and with which reason, what bad input
is refused (in Ukrainian, naming the field, changing nothing), what a deactivation changes, the
finality of a school account, branches, and the bulk deactivation's batches."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from aikom.core.errors import DomainError, NotInScope
from aikom.core.keys import KeyCheckReason
from aikom.core.validation import validation_message_uk
from aikom.models import (
    AccessKey,
    Account,
    AccountState,
    ApprovalTask,
    AuditEntry,
    BranchLink,
    DeactivationReason,
    Decision,
    EmailMessage,
    GrantState,
    KeyState,
    Ois,
    OisGrant,
    OrgLevel,
    OrgStatus,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
    Process,
    TaskState,
)
from aikom.processes import get_spec
from aikom.processes.account_deactivation import AccountDeactivationParams
from aikom.processes.liquidated_deactivation import LiquidatedDeactivationParams
from aikom.services import deactivation as svc
from aikom.services.approvals import ApprovalRequest, create_task
from aikom.services.keys import IssuedKeys, check_key, issue_account_keys
from tests import factories as f


@dataclass
class World:
    """A cascade with a hub school (keys, director, ОІС grant), institute and hromada admins."""

    units: dict[str, OrgUnit]
    school_acc: Account
    keys: IssuedKeys
    director: Person
    grant: OisGrant
    institute_admin: Person
    second_institute_admin: Person
    hromada_admin: Person


@pytest.fixture
def world(session: Session) -> World:
    units = f.cascade(session, with_edrpou=True)
    units["national"].edrpou = f.edrpou()
    national_acc = f.account(session, units["national"])
    hromada_acc = f.account(session, units["hromada"])
    school_acc = f.account(session, units["school"])
    issued = issue_account_keys(session=session, account=school_acc, actor_label="test")
    ois = Ois(
        system_name="Е-журнал", company_name="ТОВ «Журнал»", company_edrpou="12345678", contact_email="a@b.ua"
    )
    session.add(ois)
    session.flush()
    grant = OisGrant(ois_id=ois.id, school_org_unit_id=units["school"].id, api_key_id=issued.api.key_id)
    session.add(grant)
    session.flush()
    return World(
        units=units,
        school_acc=school_acc,
        keys=issued,
        director=f.person(session, school_acc, role=PersonRole.DIRECTOR),
        grant=grant,
        institute_admin=f.person(session, national_acc, role=PersonRole.INSTITUTE_ADMIN),
        second_institute_admin=f.person(session, national_acc, role=PersonRole.INSTITUTE_ADMIN),
        hromada_admin=f.person(session, hromada_acc, role=PersonRole.HROMADA_ADMIN),
    )


def _params(unit: OrgUnit | str | None, **fields: Any) -> AccountDeactivationParams:
    org = unit if isinstance(unit, str) or unit is None else str(unit.id)
    return AccountDeactivationParams.model_validate({"org": org, **fields})


def _start(session: Session, who: Person, unit: OrgUnit | str, **fields: Any) -> Process:
    return svc.start_deactivation(session=session, actor=f.actor(who), params=_params(unit, **fields))


def _processes(session: Session, world: World) -> int:
    """Deactivations of the world's school (other tests' committed processes share the database)."""
    return len(
        session.scalars(
            select(Process).where(
                Process.type == "account-deactivation",
                Process.subject_org_unit_id == world.units["school"].id,
            )
        ).all()
    )


def _key_states(session: Session, account: Account) -> list[KeyState]:
    return list(
        session.scalars(
            select(AccessKey.state).where(AccessKey.account_id == account.id).order_by(AccessKey.id)
        )
    )


# --- who may start, and why ----------------------------------------------------------------------


def test_a_cyber_incident_suspends_the_keys_at_once(session: Session, world: World) -> None:
    process = _start(
        session, world.institute_admin, world.units["school"], reason="cyber_incident", note="CERT-UA №77"
    )
    assert _key_states(session, world.school_acc) == [KeyState.SUSPENDED, KeyState.SUSPENDED]
    assert check_key(session=session, token=world.keys.api.token).reason == KeyCheckReason.SUSPENDED
    facts = svc.facts_of(process)
    assert sorted(facts.suspended_key_ids) == sorted([world.keys.base.key_id, world.keys.api.key_id])
    assert facts.reason == DeactivationReason.CYBER_INCIDENT and facts.note == "CERT-UA №77"
    # The account itself waits for the approval.
    assert session.get_one(Account, world.school_acc.id).state == AccountState.ACTIVE

    # Not upheld: the keys work again.
    assert svc.reinstate_keys(session=session, process_id=process.id) == 2
    assert check_key(session=session, token=world.keys.api.token).valid


def test_a_liquidation_suspends_nothing(session: Session, world: World) -> None:
    _start(session, world.hromada_admin, world.units["school"], reason="liquidation")
    assert _key_states(session, world.school_acc) == [KeyState.ACTIVE, KeyState.ACTIVE]


def test_a_hromada_admin_may_not_give_a_security_reason(session: Session, world: World) -> None:
    for reason in ("cyber_incident", "unauthorized_interference"):
        with pytest.raises(svc.ReasonNotAllowed) as caught:
            _start(session, world.hromada_admin, world.units["school"], reason=reason)
        assert caught.value.message_uk.startswith("Причина деактивації: «")
        assert "лише технічний адміністратор ІОА" in caught.value.message_uk
    assert _processes(session, world) == 0
    assert _key_states(session, world.school_acc) == [KeyState.ACTIVE, KeyState.ACTIVE]


def test_an_ouo_that_does_not_manage_the_school_may_not_start(session: Session, world: World) -> None:
    other = f.org_unit(session, level=OrgLevel.HROMADA, parent=world.units["rayon"], edrpou=f.edrpou())
    stranger = f.person(session, f.account(session, other), role=PersonRole.HROMADA_ADMIN)
    with pytest.raises(NotInScope) as caught:
        _start(session, stranger, world.units["school"], reason="liquidation")
    assert "не перебуває в управлінні вашого ОУО" in caught.value.message_uk


@pytest.mark.parametrize(
    ("fields", "error", "message"),
    [
        ({}, svc.ReasonRequired, "Причина деактивації: обов'язкове поле"),
        ({"reason": "  "}, svc.ReasonRequired, "Причина деактивації: обов'язкове поле"),
        ({"reason": "bankruptcy"}, svc.UnknownReason, "Причина деактивації: «bankruptcy» не передбачена"),
        ({"reason": "reorganization"}, svc.SuccessorRequired, "Правонаступник: для реорганізації вкажіть"),
        (
            {"reason": "liquidation", "successor": "1"},
            svc.SuccessorNotExpected,
            "Правонаступник: вказують лише для реорганізації",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_field(
    session: Session, world: World, fields: dict[str, Any], error: type[DomainError], message: str
) -> None:
    with pytest.raises(error) as caught:
        _start(session, world.institute_admin, world.units["school"], **fields)
    assert caught.value.message_uk.startswith(message)
    assert _processes(session, world) == 0


def test_a_successor_must_be_another_working_unit(session: Session, world: World) -> None:
    school = world.units["school"]
    with pytest.raises(svc.SuccessorIsTheUnit) as itself:
        _start(session, world.hromada_admin, school, reason="reorganization", successor=str(school.id))
    assert itself.value.message_uk.startswith("Правонаступник: не може бути тією самою організацією")
    closed = f.org_unit(
        session, level=OrgLevel.SCHOOL, parent=world.units["hromada"], status=OrgStatus.LIQUIDATED
    )
    with pytest.raises(svc.SuccessorNotActive) as inactive:
        _start(session, world.hromada_admin, school, reason="reorganization", successor=str(closed.id))
    assert inactive.value.message_uk.startswith(f"Правонаступник: «{closed.name}» не діє")
    with pytest.raises(DomainError) as unknown:
        _start(session, world.hromada_admin, school, reason="reorganization", successor="99999999")
    assert unknown.value.message_uk.startswith("Правонаступник: організацію «99999999» не знайдено")

    successor = f.org_unit(session, level=OrgLevel.SCHOOL, parent=world.units["hromada"], edrpou=f.edrpou())
    process = _start(
        session, world.hromada_admin, school, reason="reorganization", successor=successor.edrpou
    )
    assert svc.facts_of(process).successor_org_unit_id == successor.id
    assert _processes(session, world) == 1


def test_a_unit_without_an_account_and_a_second_start_are_refused(session: Session, world: World) -> None:
    bare = f.org_unit(session, level=OrgLevel.SCHOOL, parent=world.units["hromada"], edrpou=f.edrpou())
    with pytest.raises(svc.UnitWithoutAccount) as caught:
        _start(session, world.institute_admin, bare, reason="liquidation")
    assert (
        caught.value.message_uk
        == f"Організація: «{bare.name}» не має облікового запису АІКОМ — деактивувати нічого."
    )
    first = _start(session, world.institute_admin, world.units["school"], reason="liquidation")
    with pytest.raises(svc.DeactivationAlreadyRunning) as again:
        _start(session, world.institute_admin, world.units["school"], reason="liquidation")
    assert f"процес № {first.id}" in again.value.message_uk


def test_missing_fields_are_named_in_ukrainian() -> None:
    spec = get_spec("account-deactivation")
    with pytest.raises(ValidationError) as caught:
        spec.parse({"org": "", "reason": "liquidation"})
    assert validation_message_uk(caught.value) == "Організація: обов'язкове поле."
    assert spec.parse({"org": 17, "reason": "liquidation"}).model_dump()["org"] == "17"  # `--org 17`


# --- what it changes, and that it is final -------------------------------------------------------


def _deactivated(session: Session, world: World, reason: str = "liquidation") -> Process:
    process = _start(session, world.institute_admin, world.units["school"], reason=reason)
    svc.apply_deactivation(
        session=session, process_id=process.id, approver_id=world.second_institute_admin.id
    )
    return process


def test_deactivation_closes_the_account_keys_persons_and_grants(session: Session, world: World) -> None:
    process = _deactivated(session, world, "unauthorized_interference")
    account = session.get_one(Account, world.school_acc.id)
    assert account.state == AccountState.DEACTIVATED
    assert account.deactivation_reason == DeactivationReason.UNAUTHORIZED_INTERFERENCE
    assert account.deactivated_at is not None
    assert _key_states(session, world.school_acc) == [KeyState.DEACTIVATED, KeyState.DEACTIVATED]
    assert check_key(session=session, token=world.keys.base.token).reason == KeyCheckReason.DEACTIVATED
    assert session.get_one(Person, world.director.id).state == PersonState.INACTIVE
    grant = session.get_one(OisGrant, world.grant.id)
    assert grant.state == GrantState.REVOKED and grant.revoked_at is not None
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "account.deactivated", AuditEntry.object_id == str(account.id)
        )
    ).one()
    assert entry.details["process_id"] == process.id and entry.details["revoked_grant_ids"] == [
        world.grant.id
    ]

    # Idempotent: a re-run of the step changes nothing and does not fail.
    svc.apply_deactivation(
        session=session, process_id=process.id, approver_id=world.second_institute_admin.id
    )

    # The managing ОУО (its admin) is emailed.
    svc.notify_outcome(session=session, process_id=process.id)
    told = session.scalars(
        select(EmailMessage).where(
            EmailMessage.template == "account_deactivated",
            EmailMessage.to_address == world.hromada_admin.email,
        )
    ).one()
    assert told.variables["unit_name"] == world.units["school"].name and told.variables["final"] is True


def test_a_deactivated_school_account_is_final(session: Session, world: World) -> None:
    _deactivated(session, world)
    school = world.units["school"]
    with pytest.raises(svc.AccountFinallyDeactivated) as reactivate:
        svc.reactivate_account(session=session, actor=f.actor(world.institute_admin), org=str(school.id))
    assert "не підлягають подальшому використанню" in reactivate.value.message_uk
    with pytest.raises(svc.AccountAlreadyDeactivated) as again:
        _start(session, world.institute_admin, school, reason="cyber_incident")
    assert again.value.message_uk.startswith(f"Організація: обліковий запис «{school.name}» уже деактивовано")
    # And the database refuses it too, whatever code tries.
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(
            text("UPDATE account SET state = 'active', deactivation_reason = NULL WHERE id = :id"),
            {"id": world.school_acc.id},
        )


def test_an_ouo_account_may_be_opened_again_by_the_institute(session: Session, world: World) -> None:
    rayon_acc = f.account(session, world.units["rayon"])
    process = _start(
        session,
        world.institute_admin,
        world.units["rayon"],
        reason="reorganization",
        successor=str(world.units["oblast"].id),
    )
    svc.apply_deactivation(session=session, process_id=process.id, approver_id=None)
    with pytest.raises(DomainError):
        svc.reactivate_account(
            session=session, actor=f.actor(world.hromada_admin), org=str(world.units["rayon"].id)
        )
    svc.reactivate_account(
        session=session, actor=f.actor(world.institute_admin), org=str(world.units["rayon"].id)
    )
    assert session.get_one(Account, rayon_acc.id).state == AccountState.PENDING


# --- branches ------------------------------------------------------------------------------------


def _branch_task(
    session: Session,
    process: Process,
    branch: OrgUnit,
    decision: Decision,
    comment: str | None,
    actor: Person,
    attempt: int = 1,
) -> ApprovalTask:
    details = svc.branch_step_details(session=session, process_id=process.id, branch_id=branch.id)
    task = create_task(
        session=session,
        request=ApprovalRequest(
            process_id=process.id,
            step_key=svc.branch_step_key(branch.id, attempt),
            title="Філія",
            allowed_roles=[PersonRole.INSTITUTE_ADMIN],
            scope_org_unit_id=branch.id,
            decisions=[Decision.DEACTIVATE, Decision.CONFIRM],
            due_business_days=10,
            details=details,
        ),
        notify=False,
    )
    # Decided as `approvals.decide` records it (signing with КЕП is the flow tests' part).
    task.state = TaskState.DECIDED
    task.decision = decision
    task.comment = comment
    task.decided_by_id = actor.id
    session.flush()
    return task


def test_branches_are_moved_or_deactivated_as_decided(session: Session, world: World) -> None:
    hromada, school = world.units["hromada"], world.units["school"]
    moved = f.org_unit(
        session, level=OrgLevel.BRANCH, parent=school, oblast_id=school.oblast_id, name="Філія А"
    )
    closed = f.org_unit(
        session, level=OrgLevel.BRANCH, parent=school, oblast_id=school.oblast_id, name="Філія Б"
    )
    closed_acc = f.account(session, closed)
    other_hub = f.org_unit(
        session,
        level=OrgLevel.SCHOOL,
        parent=hromada,
        oblast_id=school.oblast_id,
        edrpou=f.edrpou(),
        edebo_mark="hub",
    )
    f.account(session, other_hub)
    foreign_oblast = f.org_unit(session, level=OrgLevel.OBLAST, parent=world.units["national"])
    foreign = f.org_unit(
        session, level=OrgLevel.SCHOOL, parent=foreign_oblast, oblast_id=foreign_oblast.id, edrpou=f.edrpou()
    )
    f.account(session, foreign)
    process = _deactivated(session, world)
    assert {b.branch_id for b in svc.branches_to_decide(session=session, process_id=process.id)} == {
        moved.id,
        closed.id,
    }

    # A hub of another oblast cannot take the branch: the decider is asked again, nothing changed.
    wrong = _branch_task(
        session, process, moved, Decision.CONFIRM, f"До {foreign.edrpou}", world.second_institute_admin
    )
    result = svc.apply_branch_decision(
        session=session, process_id=process.id, branch_id=moved.id, task_id=wrong.id
    )
    assert not result.done and result.problem is not None and "іншій області" in result.problem
    assert session.get_one(OrgUnit, moved.id).parent_id == school.id

    right = _branch_task(
        session,
        process,
        moved,
        Decision.CONFIRM,
        f"Перенести до {other_hub.edrpou}",
        world.second_institute_admin,
        2,
    )
    assert right.details["proposed_hub_id"] == other_hub.id
    assert svc.apply_branch_decision(
        session=session, process_id=process.id, branch_id=moved.id, task_id=right.id
    ).done
    assert session.get_one(OrgUnit, moved.id).parent_id == other_hub.id
    link = session.get_one(BranchLink, moved.id)
    assert link.hub_id == other_hub.id and link.decided_by_id == world.second_institute_admin.id

    off = _branch_task(session, process, closed, Decision.DEACTIVATE, None, world.second_institute_admin)
    assert svc.apply_branch_decision(
        session=session, process_id=process.id, branch_id=closed.id, task_id=off.id
    ).done
    assert session.get_one(Account, closed_acc.id).state == AccountState.DEACTIVATED
    outcomes = {b.branch_id: b.outcome for b in svc.facts_of(session.get_one(Process, process.id)).branches}
    assert outcomes == {moved.id: "moved", closed.id: "deactivated"}
    assert svc.branches_to_decide(session=session, process_id=process.id) == []


# --- bulk ----------------------------------------------------------------------------------------


def test_bulk_batches_report_each_school_and_are_idempotent(session: Session, world: World) -> None:
    oblast = world.units["oblast"]
    liquidated = []
    for _ in range(3):
        school = f.org_unit(
            session, level=OrgLevel.SCHOOL, parent=world.units["hromada"], oblast_id=oblast.id,
            status=OrgStatus.LIQUIDATED, managing_body_id=world.units["hromada"].id,
        )  # fmt: skip
        f.account(session, school)
        liquidated.append(school)
    preview = svc.liquidated_preview(
        session=session, within=world.institute_admin.org_unit_id, oblast=str(oblast.id)
    )
    assert preview.count == 3 and preview.scope_name == oblast.name
    with pytest.raises(DomainError):  # only the institute starts it
        svc.start_liquidated_deactivation(
            session=session,
            actor=f.actor(world.hromada_admin),
            params=LiquidatedDeactivationParams(oblast=str(oblast.id)),
        )
    process = svc.start_liquidated_deactivation(
        session=session,
        actor=f.actor(world.institute_admin),
        params=LiquidatedDeactivationParams(oblast=str(oblast.id)),
    )
    assert svc.bulk_facts_of(process).unit_ids == [s.id for s in liquidated]
    # Meanwhile one is deactivated on its own.
    first_acc = session.scalars(select(Account).where(Account.org_unit_id == liquidated[0].id)).one()
    first_acc.state = AccountState.DEACTIVATED
    first_acc.deactivation_reason = DeactivationReason.LIQUIDATION
    session.flush()

    done = svc.deactivate_liquidated_batch(
        session=session, process_id=process.id, unit_ids=[s.id for s in liquidated[:2]]
    )
    assert [(i.org_unit_id, i.outcome) for i in done] == [
        (liquidated[0].id, "skipped"),
        (liquidated[1].id, "deactivated"),
    ]
    assert done[0].note == "обліковий запис уже деактивовано"
    # A re-run (after a crash) does nothing twice; the next batch goes on.
    assert (
        svc.deactivate_liquidated_batch(
            session=session, process_id=process.id, unit_ids=[s.id for s in liquidated[:2]]
        )
        == []
    )
    svc.deactivate_liquidated_batch(session=session, process_id=process.id, unit_ids=[liquidated[2].id])
    report = svc.bulk_facts_of(session.get_one(Process, process.id)).report
    assert {k: v.outcome for k, v in report.items()} == {
        str(liquidated[0].id): "skipped",
        str(liquidated[1].id): "deactivated",
        str(liquidated[2].id): "deactivated",
    }
    assert (
        svc.liquidated_preview(
            session=session, within=world.institute_admin.org_unit_id, oblast=str(oblast.id)
        ).count
        == 0
    )
    actions = set(
        session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("liquidated_deactivation.%")))
    )
    assert {"liquidated_deactivation.skipped", "liquidated_deactivation.deactivated"} <= actions
    assert svc.bulk_outcome(session=session, process_id=process.id).startswith(
        "Деактивовано: 2; пропущено: 1."
    )
    with pytest.raises(svc.NoLiquidatedSchools):
        svc.start_liquidated_deactivation(
            session=session,
            actor=f.actor(world.second_institute_admin),
            params=LiquidatedDeactivationParams(oblast=str(oblast.id)),
        )
