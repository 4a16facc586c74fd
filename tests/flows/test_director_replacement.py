"""Director replacement end to end: the CLI, a real Prefect server and runner, КЕП-signed decisions, the
new director's first КЕП sign-in, the former director's deputies, emails and the audit log."""

from __future__ import annotations

import json
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import select

from aikom.db import session_factory, unit_of_work
from aikom.mail.delivery import deliver_pending_sync
from aikom.mail.sink import read_mailbox, start_sink
from aikom.mail.templates import render
from aikom.models import (
    AccessKey,
    Account,
    ApprovalTask,
    AuditEntry,
    Decision,
    EmailMessage,
    OrgStatus,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
    Process,
    SignedDecision,
)
from aikom.orchestration import adapter
from aikom.services.approvals import FIRST_SIGNIN_STEP
from aikom.services.directors import facts_of
from aikom.services.keys import issue_account_keys
from aikom.services.reconcile import reconcile
from aikom.settings import Settings
from tests import factories
from tests.flows.conftest import CliCall, SignedDecide, wait_for_process, wait_for_step
from tests.signing import SigningPki, sign


@dataclass
class School:
    """A committed school under a hromada, its director and deputy, and the admins around it."""

    id: int
    edrpou: str
    account_id: int
    requester: int  # a hromada admin: starts the replacement
    approver: int | None  # the hromada's second admin, when there is one
    rayon_admin: int  # the parent ОУО's admin
    former_director: int
    deputy: int


def _school(database_url: str, *, second_admin: bool = True) -> School:
    with unit_of_work(database_url) as s:
        units = factories.cascade(s, with_edrpou=True)
        hromada_acc = factories.account(s, units["hromada"])
        school_acc = factories.account(s, units["school"])
        issue_account_keys(session=s, account=school_acc, actor_label="test")

        def person(acc: Account, role: PersonRole, appointed_by: Person | None = None) -> Person:
            return factories.person(s, acc, role=role, rnokpp=factories.rnokpp(), appointed_by=appointed_by)

        requester = person(hromada_acc, PersonRole.HROMADA_ADMIN)
        approver = person(hromada_acc, PersonRole.HROMADA_ADMIN) if second_admin else None
        rayon_admin = person(factories.account(s, units["rayon"]), PersonRole.RAYON_ADMIN)
        former = person(school_acc, PersonRole.DIRECTOR)
        deputy = person(school_acc, PersonRole.DEPUTY, appointed_by=former)
        assert units["school"].edrpou is not None
        return School(
            id=units["school"].id,
            edrpou=units["school"].edrpou,
            account_id=school_acc.id,
            requester=requester.id,
            approver=approver.id if approver else None,
            rayon_admin=rayon_admin.id,
            former_director=former.id,
            deputy=deputy.id,
        )


def _new_director_form(tmp_path: Path, school: School, rnokpp: str) -> Path:
    form = tmp_path / "new-director.json"
    form.write_text(
        json.dumps(
            {
                "full_name": "Нова Директорка Оксана Петрівна",
                "rnokpp": rnokpp,
                "email": f"new-director-{school.edrpou}@example.org",
                "order_no": "15-к",
                "order_date": date.today().isoformat(),
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    return form


def _start(cli: CliCall, tmp_path: Path, school: School, rnokpp: str) -> tuple[int, str]:
    code, started = cli(
        "process", "start", "director-replacement", "--school", school.edrpou,
        "--new-director", str(_new_director_form(tmp_path, school, rnokpp)), "--as", str(school.requester),
    )  # fmt: skip
    assert code == 0, started
    assert started["started"] is True
    return int(started["process_id"]), str(started["flow_run_id"])


def _task(database_url: str, process_id: int, step_key: str) -> ApprovalTask:
    with unit_of_work(database_url) as s:
        return s.scalars(
            select(ApprovalTask).where(
                ApprovalTask.process_id == process_id, ApprovalTask.step_key == step_key
            )
        ).one()


def _approval_mails(database_url: str, task_id: int) -> set[str]:
    with unit_of_work(database_url) as s:
        rows = s.scalars(
            select(EmailMessage).where(
                EmailMessage.template == "approval_requested",
                EmailMessage.idempotency_key.like(f"approval-task-{task_id}-%"),
            )
        ).all()
        return {m.to_address for m in rows}


def _emails_of(database_url: str, person_id: int) -> set[str]:
    """The outbox templates sent to a person's address."""
    with unit_of_work(database_url) as s:
        address = s.get_one(Person, person_id).email
        return set(s.scalars(select(EmailMessage.template).where(EmailMessage.to_address == address)))


def _keys(database_url: str, account_id: int) -> list[tuple[str, str, str]]:
    with unit_of_work(database_url) as s:
        rows = s.execute(
            select(AccessKey.public_id, AccessKey.kind, AccessKey.state)
            .where(AccessKey.account_id == account_id)
            .order_by(AccessKey.id)
        ).all()
        return [(r.public_id, r.kind.value, r.state.value) for r in rows]


def _email_of(database_url: str, person_id: int) -> str:
    with unit_of_work(database_url) as s:
        return s.get_one(Person, person_id).email


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_director_replacement_with_signed_decisions_and_first_signin(
    cli: CliCall,
    cli_decide: SignedDecide,
    signing_pki: SigningPki,
    database_url: str,
    api_url: str,
    tmp_path: Path,
) -> None:
    school = _school(database_url)
    assert school.approver is not None
    new_rnokpp = factories.rnokpp()
    keys_before = _keys(database_url, school.account_id)
    assert len(keys_before) == 2

    # 1. An admin of the managing ОУО starts it from the CLI.
    process_id, run_id = _start(cli, tmp_path, school, new_rnokpp)

    # 2. The hromada's other admin is asked (and emailed); the requester is not.
    wait_for_step(run_id, "approve", api_url)
    approve = _task(database_url, process_id, "approve")
    assert approve.excluded_person_id == school.requester
    assert _approval_mails(database_url, approve.id) == {_email_of(database_url, school.approver)}
    code, refused = cli(
        "tasks", "decide", str(approve.id), "--as", str(school.approver), "--decision", "approve"
    )
    assert code == 1 and refused["error"] == "decision_signature_required"
    code, decided = cli_decide(approve.id, school.approver, Decision.APPROVE, "Наказ перевірено")
    assert code == 0, decided
    assert decided["resume"] == "resumed"

    # 3. Former director INACTIVE (former), new director PENDING and emailed; the run waits for the sign-in.
    wait_for_step(run_id, FIRST_SIGNIN_STEP, api_url)
    with unit_of_work(database_url) as s:
        former = s.get_one(Person, school.former_director)
        assert former.state == PersonState.INACTIVE and former.is_former
        new_id = int(s.get_one(Process, process_id).parameters["new_director_id"])
        new = s.get_one(Person, new_id)
        assert (new.state, new.role, new.org_unit_id) == (PersonState.PENDING, PersonRole.DIRECTOR, school.id)
        new_email, new_name = new.email, new.full_name
    assert "person_appointed" in _emails_of(database_url, new_id)
    first_signin = _task(database_url, process_id, FIRST_SIGNIN_STEP)
    assert first_signin.assignee_person_id == new_id

    # The message really leaves through SMTP (to a local sink).
    mailbox = tmp_path / "mailbox"
    port = _free_port()
    sink = start_sink(mailbox, port=port)
    try:
        mail_settings = Settings(database_url=database_url, smtp_port=port)
        while deliver_pending_sync(mail_settings, session_factory(database_url)).sent:
            pass
    finally:
        sink.stop()
    received = [m for m in read_mailbox(mailbox) if m.to == new_email]
    assert received and new_name in received[0].text

    # 4. The new director's first КЕП sign-in: ACTIVE, and the run resumes.
    challenge_file = tmp_path / "challenge.txt"
    code, challenge = cli("signin", "challenge", "--out", str(challenge_file))
    assert code == 0, challenge
    holder = signing_pki.issue(name=new_name, edrpou=school.edrpou, rnokpp=new_rnokpp)
    signature = tmp_path / "challenge.p7s"
    signature.write_bytes(sign(holder, challenge_file.read_bytes()))
    code, signed_in = cli("signin", "complete", "--nonce", challenge["nonce"], "--signature", str(signature))
    assert code == 0, signed_in
    assert signed_in["person_id"] == new_id and signed_in["activated"] is True
    assert [r["task_id"] for r in signed_in["resumed"]] == [first_signin.id]
    assert signed_in["resumed"][0]["resume"] in ("resumed", "in_progress")

    # 5. The former director's deputy: a step assigned to the new director, who confirms (signed).
    deputy_step = f"deputy-{school.deputy}"
    wait_for_step(run_id, deputy_step, api_url)
    review = _task(database_url, process_id, deputy_step)
    assert review.assignee_person_id == new_id
    assert _approval_mails(database_url, review.id) == {new_email}
    code, decided = cli_decide(review.id, new_id, Decision.CONFIRM, "Повноваження підтверджую")
    assert code == 0, decided

    view = wait_for_process(database_url, process_id)
    assert view.state == "completed", view.outcome
    with unit_of_work(database_url) as s:
        assert s.get_one(Person, new_id).state == PersonState.ACTIVE
        deputy = s.get_one(Person, school.deputy)
        assert deputy.state == PersonState.ACTIVE and deputy.appointed_by_id == new_id
    assert "process_outcome" in _emails_of(database_url, school.requester)
    # The requester learns who the new director is and the deputy's fate; the former director is told;
    # no message carries a full РНОКПП.
    with unit_of_work(database_url) as s:
        outcome = s.scalars(
            select(EmailMessage).where(EmailMessage.idempotency_key == f"process-{process_id}-outcome")
        ).one()
        facts = outcome.variables["facts"]
        deputy_name = s.get_one(Person, school.deputy).full_name
        everyone = [
            s.get_one(Person, i).email
            for i in (school.requester, school.approver, school.former_director, school.deputy, new_id)
        ]
        sent = s.scalars(select(EmailMessage).where(EmailMessage.to_address.in_(everyone))).all()
        rendered = [render(m.template, m.variables) for m in sent]
    assert any(new_name in fact for fact in facts)
    assert f"Заступник {deputy_name}: повноваження підтверджено новим керівником." in facts
    assert "person_notice" in _emails_of(database_url, school.former_director)
    assert all(new_rnokpp not in part for r in rendered for part in (r.subject, r.text, r.html))

    # The school's keys are untouched: a replacement changes persons only.
    assert _keys(database_url, school.account_id) == keys_before

    # Both decisions are stored signed and verify again.
    with unit_of_work(database_url) as s:
        decision_ids = s.scalars(
            select(SignedDecision.id)
            .where(SignedDecision.task_id.in_([approve.id, review.id]))
            .order_by(SignedDecision.id)
        ).all()
    assert len(decision_ids) == 2
    for decision_id in decision_ids:
        code, verified = cli("decision", "verify", str(decision_id))
        assert code == 0 and verified["ok"] is True, verified

    # Every step left its audit entry, and the chain holds.
    with unit_of_work(database_url) as s:
        entries = {
            (e.action, e.object_id)
            for e in s.scalars(select(AuditEntry).where(AuditEntry.action.not_like("key.%")))
        }
    assert {
        ("director_replacement.started", str(process_id)),
        ("approval.decided", str(approve.id)),
        ("person.director_replaced", str(school.former_director)),
        ("person.created", str(new_id)),
        ("person.activated", str(new_id)),
        ("approval.decided", str(review.id)),
        ("person.deputy_confirmed", str(school.deputy)),
    } <= entries
    code, chain = cli("audit", "verify")
    assert code == 0 and chain["ok"] is True


def test_rejected_replacement_changes_nobody_and_tells_the_requester(
    cli: CliCall, cli_decide: SignedDecide, database_url: str, api_url: str, tmp_path: Path
) -> None:
    school = _school(database_url)
    assert school.approver is not None
    process_id, run_id = _start(cli, tmp_path, school, factories.rnokpp())
    wait_for_step(run_id, "approve", api_url)
    approve = _task(database_url, process_id, "approve")

    code, decided = cli_decide(approve.id, school.approver, Decision.REJECT, "Наказ не підписано")
    assert code == 0, decided

    view = wait_for_process(database_url, process_id)
    assert view.state == "rejected"
    with unit_of_work(database_url) as s:
        assert s.get_one(Person, school.former_director).state == PersonState.ACTIVE
        assert facts_of(s.get_one(Process, process_id)).new_director_id is None  # nobody was appointed
        outcome = s.scalars(
            select(EmailMessage).where(EmailMessage.idempotency_key == f"process-{process_id}-outcome")
        ).one()
    assert outcome.to_address == _email_of(database_url, school.requester)
    assert outcome.variables["outcome"] == "відхилено"
    assert outcome.variables["comment"] == "Наказ не підписано"


def test_with_one_admin_in_the_hromada_the_rayon_admin_approves(
    cli: CliCall, cli_decide: SignedDecide, database_url: str, api_url: str, tmp_path: Path
) -> None:
    school = _school(database_url, second_admin=False)
    process_id, run_id = _start(cli, tmp_path, school, factories.rnokpp())
    wait_for_step(run_id, "approve", api_url)
    approve = _task(database_url, process_id, "approve")
    with unit_of_work(database_url) as s:
        rayon_id = s.get_one(Person, school.rayon_admin).org_unit_id
        assert s.get_one(OrgUnit, rayon_id).level == "rayon"
    assert (approve.allowed_roles, approve.scope_org_unit_id) == ([PersonRole.RAYON_ADMIN.value], rayon_id)
    assert _approval_mails(database_url, approve.id) == {_email_of(database_url, school.rayon_admin)}

    # The requester's own ОУО no longer decides: refused before anything is signed.
    code, refused = cli(
        "tasks", "document", str(approve.id), "--as", str(school.requester), "--decision", "approve",
        "--out", str(tmp_path / "own.json"),
    )  # fmt: skip
    assert code == 1 and refused["error"] == "role_not_allowed"
    code, decided = cli_decide(approve.id, school.rayon_admin, Decision.APPROVE)
    assert code == 0, decided

    wait_for_step(run_id, FIRST_SIGNIN_STEP, api_url)
    with unit_of_work(database_url) as s:
        assert s.get_one(Person, school.former_director).state == PersonState.INACTIVE


def _task_run_counts(run_id: str, api_url: str, *, step: str, timeout: float = 30) -> dict[str, int]:
    """How many times each step of the run was tried (Prefect's own record). The server records task runs
    from the flow process's events, a moment after the flow run's own final state: wait until `step` is
    recorded as finished."""
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    deadline = time.monotonic() + timeout
    while True:
        with SyncPrefectClient(api_url) as client:
            runs = client.read_task_runs(
                flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[uuid.UUID(run_id)])),
                sort=TaskRunSort.EXPECTED_START_TIME_ASC,
                limit=200,
            )
        counts = {run.name.rsplit("-", 1)[0]: run.run_count for run in runs}
        finished = {
            run.name.rsplit("-", 1)[0] for run in runs if run.state is not None and run.state.is_final()
        }
        if step in finished or time.monotonic() > deadline:
            return counts
        time.sleep(0.2)


def test_a_school_closed_while_the_approval_waits_stops_the_process_at_once(
    cli: CliCall, cli_decide: SignedDecide, database_url: str, api_url: str, tmp_path: Path
) -> None:
    school = _school(database_url)
    assert school.approver is not None
    process_id, run_id = _start(cli, tmp_path, school, factories.rnokpp())
    wait_for_step(run_id, "approve", api_url)
    with unit_of_work(database_url) as s:  # the school is liquidated meanwhile
        s.get_one(OrgUnit, school.id).status = OrgStatus.LIQUIDATED
    approve = _task(database_url, process_id, "approve")
    code, decided = cli_decide(approve.id, school.approver, Decision.APPROVE)
    assert code == 0, decided

    # The rule's refusal ends the process with its reason; nobody was changed; the requester is told.
    view = wait_for_process(database_url, process_id)
    assert view.state == "failed"
    assert view.outcome is not None and "Заклад освіти не діє" in view.outcome
    with unit_of_work(database_url) as s:
        assert s.get_one(Person, school.former_director).state == PersonState.ACTIVE
        assert facts_of(s.get_one(Process, process_id)).new_director_id is None  # nobody was appointed
        told = s.scalars(
            select(EmailMessage).where(EmailMessage.idempotency_key == f"process-{process_id}-outcome")
        ).one()
        assert told.to_address == s.get_one(Person, school.requester).email
        assert "Заклад освіти не діє" in str(told.variables["comment"])
        failed = s.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "process.failed", AuditEntry.object_id == str(process_id)
            )
        ).one()
        assert "не діє" in failed.details["reason"]

    # The refused step ran once (a refusal gives the same answer every time), the run ended Failed, and
    # the reconciler leaves it be: the process is finished.
    run = adapter.wait_for_run(run_id, api_url=api_url)
    assert run.state_type == adapter.RunStateType.FAILED
    assert (
        _task_run_counts(run_id, api_url, step="apply-director-replacement")["apply-director-replacement"]
        == 1
    )
    report = reconcile(db_url=database_url, api_url=api_url)
    assert process_id not in report.repaired
    again = adapter.read_run(run_id, api_url=api_url)
    assert again is not None and again.state_type == adapter.RunStateType.FAILED
