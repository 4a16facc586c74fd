"""Approval tasks: who may decide (role, scope, four-eyes), once, before the due date, signed with КЕП;
who is emailed; races."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from aikom.core.errors import NotInScope, RoleNotAllowed, ValidationFailed
from aikom.db import unit_of_work
from aikom.models import (
    Account,
    ApprovalTask,
    AuditEntry,
    Decision,
    EmailMessage,
    OrgLevel,
    Person,
    PersonRole,
    PersonState,
    SignedDecision,
    TaskState,
)
from aikom.services import approvals, queue
from aikom.services.approvals import (
    AlreadyDecided,
    ApprovalOverdue,
    ApprovalRequest,
    DecisionDocumentOutdated,
    DecisionSignatureRequired,
    PersonNotActive,
    SelfApprovalForbidden,
    SignedPayload,
    TaskClaimedByOther,
)
from aikom.services.decisions import (
    DecisionDocumentMismatch,
    DecisionSignatureInvalid,
    DecisionSignerMismatch,
)
from aikom.settings import get_settings
from tests import factories as f
from tests.signing import SigningPki, decide_signed, signed_decision


@dataclass
class Setup:
    process_id: int
    task: ApprovalTask
    requester: Person
    approver: Person
    hromada_admin: Person
    outsider: Person
    director: Person


def _setup(session: Session, *, due_in_seconds: int = 3600) -> Setup:
    c = f.cascade(session, with_edrpou=True)
    other = f.org_unit(session, level=OrgLevel.OBLAST, parent=c["national"], edrpou=f.edrpou())

    def person(unit: str, role: PersonRole) -> Person:
        unit_row = other if unit == "other" else c[unit]
        return f.person(session, f.account(session, unit_row), role=role, rnokpp=f.rnokpp())

    requester = person("rayon", PersonRole.RAYON_ADMIN)
    approver = person("oblast", PersonRole.OBLAST_ADMIN)
    hromada_admin = person("hromada", PersonRole.HROMADA_ADMIN)
    outsider = person("other", PersonRole.OBLAST_ADMIN)
    director = person("school", PersonRole.DIRECTOR)
    process, task = f.approval_task(
        session,
        requester=requester,
        subject=c["hromada"],
        scope=c["rayon"],
        allowed_roles=[PersonRole.OBLAST_ADMIN, PersonRole.RAYON_ADMIN, PersonRole.HROMADA_ADMIN],
        due_in_seconds=due_in_seconds,
    )
    return Setup(process.id, task, requester, approver, hromada_admin, outsider, director)


def test_create_task_is_idempotent_per_process_and_step(session: Session) -> None:
    s = _setup(session)
    again = approvals.create_task(
        session=session,
        request=ApprovalRequest(
            process_id=s.process_id,
            step_key="approve",
            title="Інша назва",
            allowed_roles=[PersonRole.INSTITUTE_ADMIN],
            due_in_seconds=10,
        ),
    )
    assert again.id == s.task.id
    assert again.title == "Погодження"


def test_step_key_must_fit_a_pause_key() -> None:
    with pytest.raises(ValueError):
        ApprovalRequest(process_id=1, step_key="Крок 1", title="x", allowed_roles=[PersonRole.DIRECTOR],
                        due_in_seconds=1)  # fmt: skip


def test_an_approver_above_the_scope_decides_with_a_signature_and_an_audit_entry(
    session: Session, signing_pki: SigningPki
) -> None:
    s = _setup(session)

    task = decide_signed(
        session, signing_pki, task_id=s.task.id, actor=s.approver, decision=Decision.APPROVE, comment=" так "
    )

    assert task.state == TaskState.DECIDED
    assert task.decision == Decision.APPROVE
    assert task.decided_by_id == s.approver.id
    assert task.comment == "так"
    assert task.decided_at is not None
    stored = session.scalars(select(SignedDecision).where(SignedDecision.task_id == task.id)).one()
    assert stored.signer_person_id == s.approver.id and stored.verified_ok and stored.certificate
    entry = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "approval.decided", AuditEntry.object_id == str(task.id)
        )
    ).one()
    assert entry.actor_person_id == s.approver.id
    assert entry.details["decision"] == "approve" and entry.details["signed_decision_id"] == stored.id


def test_a_decision_without_a_signature_is_refused(session: Session) -> None:
    s = _setup(session)

    with pytest.raises(DecisionSignatureRequired) as refused:
        approvals.decide(
            session=session, task_id=s.task.id, actor=s.approver, decision=Decision.APPROVE, signed=None
        )

    assert "КЕП" in refused.value.message_uk
    assert session.get_one(ApprovalTask, s.task.id).state == TaskState.OPEN


def test_a_decision_signed_by_another_person_is_refused(session: Session, signing_pki: SigningPki) -> None:
    s = _setup(session)
    # A valid КЕП of somebody else in scope, over exactly the approver's decision document.
    forged = signed_decision(
        signing_pki.certificate_for(session, s.hromada_admin),
        task=s.task,
        actor=s.approver,
        decision=Decision.APPROVE,
    )

    with pytest.raises(DecisionSignerMismatch):
        approvals.decide(
            session=session,
            task_id=s.task.id,
            actor=s.approver,
            decision=Decision.APPROVE,
            signed=forged,
            trust=signing_pki.trust,
        )
    assert session.get_one(ApprovalTask, s.task.id).state == TaskState.OPEN


def test_a_signature_over_a_different_decision_is_refused(session: Session, signing_pki: SigningPki) -> None:
    s = _setup(session)
    holder = signing_pki.certificate_for(session, s.approver)
    rejected = signed_decision(holder, task=s.task, actor=s.approver, decision=Decision.REJECT)

    with pytest.raises(DecisionDocumentMismatch, match="decision"):
        approvals.decide(
            session=session,
            task_id=s.task.id,
            actor=s.approver,
            decision=Decision.APPROVE,
            signed=rejected,
            trust=signing_pki.trust,
        )
    # The approve document with the signature of the reject document: the signature does not match.
    approve_document = approvals.decision_document(task=s.task, actor=s.approver, decision=Decision.APPROVE,
                                                   comment=None)  # fmt: skip
    with pytest.raises(DecisionSignatureInvalid):
        approvals.decide(
            session=session,
            task_id=s.task.id,
            actor=s.approver,
            decision=Decision.APPROVE,
            signed=SignedPayload(document=approve_document, signature=rejected.signature),
            trust=signing_pki.trust,
        )
    assert session.get_one(ApprovalTask, s.task.id).state == TaskState.OPEN


def test_an_old_decision_document_is_refused(session: Session, signing_pki: SigningPki) -> None:
    s = _setup(session)
    old = signed_decision(
        signing_pki.certificate_for(session, s.approver),
        task=s.task,
        actor=s.approver,
        decision=Decision.APPROVE,
        at=datetime.now(UTC) - timedelta(days=2),
    )
    with pytest.raises(DecisionDocumentOutdated):
        approvals.decide(
            session=session,
            task_id=s.task.id,
            actor=s.approver,
            decision=Decision.APPROVE,
            signed=old,
            trust=signing_pki.trust,
        )


def test_authorisation_is_checked_before_the_signature(session: Session, signing_pki: SigningPki) -> None:
    s = _setup(session)
    holder = signing_pki.certificate_for(session, s.requester)
    own = signed_decision(holder, task=s.task, actor=s.requester, decision=Decision.APPROVE)
    # A perfectly signed decision of the requester still gets the precise refusal (four-eyes) …
    with pytest.raises(SelfApprovalForbidden):
        approvals.decide(session=session, task_id=s.task.id, actor=s.requester, decision=Decision.APPROVE,
                         signed=own, trust=signing_pki.trust)  # fmt: skip
    # … and an unsigned one from outside the scope is refused for the scope, not for the signature.
    with pytest.raises(NotInScope):
        approvals.decide(session=session, task_id=s.task.id, actor=s.outsider, decision=Decision.APPROVE,
                         signed=None)  # fmt: skip


def test_the_stored_signed_decision_verifies_again_from_the_cli(
    database_url: str, signing_pki: SigningPki, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aikom.cli.main import app

    with unit_of_work(database_url) as session:
        s = _setup(session)
        decide_signed(session, signing_pki, task_id=s.task.id, actor=s.approver, decision=Decision.REJECT,
                      comment="Бракує наказу")  # fmt: skip
        decision_id = session.scalars(
            select(SignedDecision.id).where(SignedDecision.task_id == s.task.id)
        ).one()
    monkeypatch.setenv("AIKOM_DATABASE_URL", database_url)
    monkeypatch.setenv("AIKOM_TRUST_DIR", str(signing_pki.trust_dir))
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["decision", "verify", str(decision_id), "--json"])
    finally:
        get_settings.cache_clear()

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] is True and report["stored_ok"] is True
    assert report["document"]["decision"] == "reject"
    assert report["document"]["comment"] == "Бракує наказу"
    assert report["document"]["actor"] == s.approver.id


def test_opening_a_task_emails_every_decider_but_not_the_requester(session: Session) -> None:
    s = _setup(session)

    mails = session.scalars(
        select(EmailMessage).where(EmailMessage.idempotency_key.like(f"approval-task-{s.task.id}-%"))
    ).all()

    # The requester, a unit below the scope, another oblast and a role not allowed get nothing.
    assert [m.to_address for m in mails] == [s.approver.email]
    assert mails[0].template == "approval_requested"
    assert mails[0].variables["task_id"] == s.task.id
    assert mails[0].variables["recipient_name"] == s.approver.full_name
    assert mails[0].variables["process_title"] == "Демонстраційний запит на погодження"
    # It names who asks and links the task itself.
    assert mails[0].variables["requester"] == s.requester.full_name
    assert mails[0].variables["link"].endswith(f"/tasks?task={s.task.id}")


def test_deciders_are_the_active_persons_who_may_decide(session: Session) -> None:
    s = _setup(session)
    colleague = f.person(session, _account_of(session, s.approver), role=PersonRole.OBLAST_ADMIN)
    pending = f.person(
        session, _account_of(session, s.approver), role=PersonRole.OBLAST_ADMIN, state=PersonState.PENDING
    )

    deciders = approvals.deciders_of(session, s.task)

    assert [p.id for p in deciders] == [s.approver.id, colleague.id]
    assert pending not in deciders
    assert all(approvals.list_tasks_for(session=session, actor=p)[0].id == s.task.id for p in deciders)


def test_an_assigned_task_emails_only_its_assignee_and_a_repeat_sends_nothing(session: Session) -> None:
    s = _setup(session)
    request = ApprovalRequest(
        process_id=s.process_id,
        step_key="assigned",
        title="Призначене завдання",
        allowed_roles=[PersonRole.OBLAST_ADMIN, PersonRole.RAYON_ADMIN],
        scope_org_unit_id=s.approver.org_unit_id,
        assignee_person_id=s.approver.id,
        due_in_seconds=3600,
    )
    task = approvals.create_task(session=session, request=request)
    approvals.create_task(session=session, request=request)

    mails = session.scalars(
        select(EmailMessage).where(EmailMessage.idempotency_key.like(f"approval-task-{task.id}-%"))
    ).all()
    assert [m.to_address for m in mails] == [s.approver.email]


def test_the_requester_may_not_approve_their_own_request(session: Session) -> None:
    s = _setup(session)

    with pytest.raises(SelfApprovalForbidden) as refused:
        approvals.decide(
            session=session, task_id=s.task.id, actor=s.requester, decision=Decision.APPROVE, signed=None
        )

    assert "чотирьох очей" in refused.value.message_uk
    assert session.get_one(ApprovalTask, s.task.id).state == TaskState.OPEN


def test_a_person_below_the_scope_is_out_of_scope(session: Session) -> None:
    s = _setup(session)
    # The hromada lies below the task's scope (the rayon): its admin may not decide for the rayon.
    with pytest.raises(NotInScope):
        approvals.decide(
            session=session, task_id=s.task.id, actor=s.hromada_admin, decision=Decision.APPROVE, signed=None
        )
    with pytest.raises(NotInScope):
        approvals.decide(
            session=session, task_id=s.task.id, actor=s.outsider, decision=Decision.APPROVE, signed=None
        )


def test_a_role_not_allowed_is_refused(session: Session) -> None:
    s = _setup(session)
    with pytest.raises(RoleNotAllowed):
        approvals.decide(
            session=session, task_id=s.task.id, actor=s.director, decision=Decision.APPROVE, signed=None
        )


def test_an_inactive_person_is_refused(session: Session) -> None:
    s = _setup(session)
    s.approver.state = PersonState.INACTIVE
    with pytest.raises(PersonNotActive):
        approvals.decide(
            session=session, task_id=s.task.id, actor=s.approver, decision=Decision.APPROVE, signed=None
        )


def test_a_second_decision_is_refused_with_a_clear_message(session: Session, signing_pki: SigningPki) -> None:
    s = _setup(session)
    decide_signed(session, signing_pki, task_id=s.task.id, actor=s.approver, decision=Decision.REJECT)

    with pytest.raises(AlreadyDecided) as refused:
        decide_signed(session, signing_pki, task_id=s.task.id, actor=s.approver, decision=Decision.APPROVE)

    assert refused.value.message_uk == (
        f"Завдання №{s.task.id} уже розглянуто: рішення «відхилити» вже ухвалено."
    )


def test_an_overdue_task_cannot_be_decided(session: Session) -> None:
    s = _setup(session, due_in_seconds=60)
    later = datetime.now(UTC) + timedelta(minutes=2)
    with pytest.raises(ApprovalOverdue):
        approvals.decide(
            session=session,
            task_id=s.task.id,
            actor=s.approver,
            decision=Decision.APPROVE,
            now=later,
            signed=None,
        )


def test_a_decision_the_task_does_not_offer_is_refused(session: Session) -> None:
    s = _setup(session)
    with pytest.raises(ValidationFailed) as refused:
        approvals.decide(
            session=session, task_id=s.task.id, actor=s.approver, decision=Decision.DEACTIVATE, signed=None
        )
    assert refused.value.field == "decision"


def test_list_shows_only_tasks_the_person_may_decide(session: Session) -> None:
    s = _setup(session)

    def listed(person: Person) -> bool:
        return s.task.id in [t.id for t in approvals.list_tasks_for(session=session, actor=person)]

    assert listed(s.approver)
    assert not listed(s.requester)
    assert not listed(s.outsider)
    assert not listed(s.hromada_admin)
    assert not listed(s.director)


def test_a_colleague_may_not_decide_a_task_someone_claimed(session: Session, signing_pki: SigningPki) -> None:
    s = _setup(session)
    colleague = f.person(session, _account_of(session, s.approver), role=PersonRole.OBLAST_ADMIN,
                         rnokpp=f.rnokpp())  # fmt: skip
    queue.claim(session=session, task_id=s.task.id, actor=s.approver)

    with pytest.raises(TaskClaimedByOther) as refused:
        decide_signed(session, signing_pki, task_id=s.task.id, actor=colleague, decision=Decision.APPROVE)

    assert f"взяв у роботу {s.approver.full_name}" in refused.value.message_uk
    assert session.get_one(ApprovalTask, s.task.id).state == TaskState.OPEN
    task = decide_signed(session, signing_pki, task_id=s.task.id, actor=s.approver, decision=Decision.APPROVE)
    assert task.decided_by_id == s.approver.id


def test_four_eyes_excludes_whoever_started_the_request_for_the_requester(session: Session) -> None:
    c = f.cascade(session, with_edrpou=True)
    requester = f.person(session, f.account(session, c["hromada"]), role=PersonRole.HROMADA_ADMIN)
    institute = f.account(session, c["national"])
    agent = f.person(session, institute, role=PersonRole.INSTITUTE_ADMIN)  # acts on the requester's behalf
    colleague = f.person(session, institute, role=PersonRole.INSTITUTE_ADMIN)
    process, task = f.approval_task(
        session,
        requester=requester,
        subject=c["hromada"],
        scope=c["hromada"],
        allowed_roles=[PersonRole.INSTITUTE_ADMIN, PersonRole.HROMADA_ADMIN],
        started_by=agent,
    )
    assert (process.requester_person_id, process.started_by_id) == (requester.id, agent.id)

    for starter in (requester, agent):
        with pytest.raises(SelfApprovalForbidden):
            approvals.check_may_decide(session=session, task=task, actor=starter, decision=Decision.APPROVE)
        assert task.id not in [t.id for t in approvals.list_tasks_for(session=session, actor=starter)]
    approvals.check_may_decide(session=session, task=task, actor=colleague, decision=Decision.APPROVE)
    # Only the colleague is asked (emailed) to decide it.
    assert [p.id for p in approvals.deciders_of(session, task)] == [colleague.id]


def test_two_simultaneous_decisions_exactly_one_wins(database_url: str, signing_pki: SigningPki) -> None:
    with unit_of_work(database_url) as session:
        s = _setup(session)
        task_id, approver_id = s.task.id, s.approver.id
        other = f.person(session, _account_of(session, s.approver), role=PersonRole.OBLAST_ADMIN,
                         rnokpp=f.rnokpp())  # fmt: skip
        other_id = other.id
        signed = {
            person.id: signed_decision(
                signing_pki.certificate_for(session, person), task=s.task, actor=person, decision=decision
            )
            for person, decision in ((s.approver, Decision.APPROVE), (other, Decision.REJECT))
        }

    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def decide_as(person_id: int, decision: Decision) -> None:
        try:
            with unit_of_work(database_url) as session:
                actor = session.get_one(Person, person_id)
                barrier.wait()
                approvals.decide(session=session, task_id=task_id, actor=actor, decision=decision,
                                 signed=signed[person_id], trust=signing_pki.trust)  # fmt: skip
                time.sleep(0.3)  # keep the lock while the other one tries
            outcomes.append("won")
        except AlreadyDecided as error:
            outcomes.append(error.message_uk)

    threads = [
        threading.Thread(target=decide_as, args=(approver_id, Decision.APPROVE)),
        threading.Thread(target=decide_as, args=(other_id, Decision.REJECT)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(o == "won" for o in outcomes) == [False, True]
    assert any("уже розглянуто" in o for o in outcomes)


def _account_of(session: Session, person: Person) -> Account:
    return session.get_one(Account, person.account_id)
