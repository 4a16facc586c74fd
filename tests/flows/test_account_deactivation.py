"""Account deactivation end to end: the CLI, a real Prefect server and runner, КЕП-signed decisions, keys
suspended at once and restored, the effects of an approval, a hub's branches, the managing ОУО's email
through SMTP, the finality of a school account — and the bulk deactivation of liquidated schools."""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aikom.core.actor import Actor
from aikom.db import session_factory, unit_of_work
from aikom.mail.delivery import deliver_pending_sync
from aikom.mail.sink import read_mailbox, start_sink
from aikom.models import (
    AccessKey,
    Account,
    AccountState,
    ApprovalTask,
    AuditEntry,
    DeactivationReason,
    Decision,
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
)
from aikom.services import deactivation
from aikom.services.keys import issue_account_keys
from aikom.settings import Settings
from tests import factories as f
from tests.flows.conftest import CliCall, SignedDecide, wait_for_process, wait_for_step


@dataclass
class Hub:
    """A committed hub school with keys, a director, an ОІС grant and two branches; the admins around it."""

    school_id: int
    edrpou: str
    account_id: int
    api_token: str
    base_token: str
    director: int
    grant: int
    branch_moved: int
    branch_closed: int
    branch_closed_account: int
    other_hub: int
    other_hub_edrpou: str
    institute_admin: int
    second_institute_admin: int
    hromada_admin: int
    hromada_admin_email: str


def _hub(database_url: str, *, branches: bool = True) -> Hub:
    with unit_of_work(database_url) as s:
        units = f.cascade(s, with_edrpou=True)
        units["national"].edrpou = f.edrpou()
        school, hromada = units["school"], units["hromada"]
        school.edebo_mark = "hub"

        def person(acc: Account, role: PersonRole) -> Person:
            return f.person(s, acc, role=role, rnokpp=f.rnokpp())

        national_acc = f.account(s, units["national"])
        hromada_acc = f.account(s, hromada)
        school_acc = f.account(s, school)
        issued = issue_account_keys(session=s, account=school_acc, actor_label="test")
        ois = Ois(
            system_name="Е-журнал",
            company_name="ТОВ «Журнал»",
            company_edrpou="12345678",
            contact_email="o@b.ua",
        )
        s.add(ois)
        s.flush()
        grant = OisGrant(ois_id=ois.id, school_org_unit_id=school.id, api_key_id=issued.api.key_id)
        s.add(grant)
        moved = f.org_unit(
            s, level=OrgLevel.BRANCH, parent=school, oblast_id=school.oblast_id, name="Філія Вишнева"
        )
        closed = f.org_unit(
            s, level=OrgLevel.BRANCH, parent=school, oblast_id=school.oblast_id, name="Філія Лісова"
        )
        if not branches:
            moved.status = closed.status = OrgStatus.REORGANIZED
        closed_acc = f.account(s, closed)
        other = f.org_unit(
            s, level=OrgLevel.SCHOOL, parent=hromada, oblast_id=school.oblast_id, edrpou=f.edrpou(),
            managing_body_id=hromada.id, name="Ліцей Сусідній",
        )  # fmt: skip
        f.account(s, other)
        hromada_admin = person(hromada_acc, PersonRole.HROMADA_ADMIN)
        s.flush()
        assert school.edrpou is not None and other.edrpou is not None
        return Hub(
            school_id=school.id,
            edrpou=school.edrpou,
            account_id=school_acc.id,
            api_token=issued.api.token,
            base_token=issued.base.token,
            director=person(school_acc, PersonRole.DIRECTOR).id,
            grant=grant.id,
            branch_moved=moved.id,
            branch_closed=closed.id,
            branch_closed_account=closed_acc.id,
            other_hub=other.id,
            other_hub_edrpou=other.edrpou,
            institute_admin=person(national_acc, PersonRole.INSTITUTE_ADMIN).id,
            second_institute_admin=person(national_acc, PersonRole.INSTITUTE_ADMIN).id,
            hromada_admin=hromada_admin.id,
            hromada_admin_email=hromada_admin.email,
        )


def _start(cli: CliCall, tmp_path: Path, who: int, **params: Any) -> tuple[int, str]:
    code, started = _try_start(cli, tmp_path, who, **params)
    assert code == 0, started
    assert started["started"] is True
    return int(started["process_id"]), str(started["flow_run_id"])


def _try_start(cli: CliCall, tmp_path: Path, who: int, **params: Any) -> tuple[int, Any]:
    form = tmp_path / f"deactivation-{who}-{len(list(tmp_path.iterdir()))}.json"
    form.write_text(json.dumps(params, ensure_ascii=False), encoding="utf-8")
    return cli("process", "start", "account-deactivation", "--params", str(form), "--as", str(who))


def _task(database_url: str, process_id: int, step_key: str) -> ApprovalTask:
    with unit_of_work(database_url) as s:
        return s.scalars(
            select(ApprovalTask).where(
                ApprovalTask.process_id == process_id, ApprovalTask.step_key == step_key
            )
        ).one()


def _key_check(cli: CliCall, token: str) -> str:
    _, checked = cli("keys", "check", token)
    return str(checked["reason"])


def _key_states(database_url: str, account_id: int) -> set[KeyState]:
    with unit_of_work(database_url) as s:
        return set(s.scalars(select(AccessKey.state).where(AccessKey.account_id == account_id)))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_cyber_incident_suspends_keys_at_once_and_a_rejection_restores_them(
    cli: CliCall, cli_decide: SignedDecide, database_url: str, api_url: str, tmp_path: Path
) -> None:
    hub = _hub(database_url)
    assert _key_check(cli, hub.api_token) == "ok"

    process_id, run_id = _start(
        cli, tmp_path, hub.institute_admin, org=hub.edrpou, reason="cyber_incident", note="CERT-UA 2026/114"
    )
    # Suspended right after the start — before anyone approves.
    assert _key_check(cli, hub.api_token) == "suspended"
    assert _key_check(cli, hub.base_token) == "suspended"

    wait_for_step(run_id, "approve", api_url)
    approve = _task(database_url, process_id, "approve")
    assert approve.allowed_roles == [PersonRole.INSTITUTE_ADMIN.value]
    assert approve.excluded_person_id == hub.institute_admin
    code, decided = cli_decide(
        approve.id, hub.second_institute_admin, Decision.REJECT, "Інцидент не підтверджено"
    )
    assert code == 0, decided

    view = wait_for_process(database_url, process_id)
    assert view.state == "rejected", view.outcome
    assert view.outcome is not None and "Дію ключів відновлено (2)" in view.outcome
    assert _key_check(cli, hub.api_token) == "ok"
    with unit_of_work(database_url) as s:
        assert s.get_one(Account, hub.account_id).state == AccountState.ACTIVE
        assert s.get_one(Person, hub.director).state == PersonState.ACTIVE
        assert s.get_one(OisGrant, hub.grant).state == GrantState.ACTIVE
        actions = set(
            s.scalars(
                select(AuditEntry.action).where(
                    AuditEntry.object_type == "account", AuditEntry.object_id == str(hub.account_id)
                )
            )
        )
    assert {"access_key.suspended", "access_key.reinstated"} <= actions


def test_an_approved_deactivation_closes_everything_decides_branches_and_tells_the_ouo(
    cli: CliCall, cli_decide: SignedDecide, database_url: str, api_url: str, tmp_path: Path
) -> None:
    hub = _hub(database_url)
    process_id, run_id = _start(
        cli, tmp_path, hub.institute_admin, org=hub.edrpou, reason="unauthorized_interference"
    )
    assert _key_check(cli, hub.api_token) == "suspended"
    wait_for_step(run_id, "approve", api_url)
    approve = _task(database_url, process_id, "approve")

    # Four-eyes: the starter cannot approve — refused before anything is signed.
    code, refused = cli(
        "tasks", "document", str(approve.id), "--as", str(hub.institute_admin), "--decision", "approve",
        "--out", str(tmp_path / "own.json"),
    )  # fmt: skip
    assert code == 1 and refused["error"] == "four_eyes", refused
    code, decided = cli_decide(
        approve.id, hub.second_institute_admin, Decision.APPROVE, "Підтверджено CERT-UA"
    )
    assert code == 0, decided

    # Each branch: a step for the approving institute admin. One moves to the neighbouring hub (named in the
    # signed comment), the other is deactivated with the hub.
    moved_step = f"branch-{hub.branch_moved}"
    closed_step = f"branch-{hub.branch_closed}"
    wait_for_step(run_id, moved_step, api_url)  # branches in the order of their names
    with unit_of_work(database_url) as s:
        account = s.get_one(Account, hub.account_id)
        assert account.state == AccountState.DEACTIVATED  # the hub is closed before its branches are decided
        assert account.deactivation_reason == DeactivationReason.UNAUTHORIZED_INTERFERENCE
    review = _task(database_url, process_id, moved_step)
    assert review.assignee_person_id == hub.second_institute_admin
    # Both branch steps are open at once, so the decider sees them together.
    assert _task(database_url, process_id, closed_step).assignee_person_id == hub.second_institute_admin
    assert any(hub.other_hub_edrpou in value for _, value in review.details["shown"])
    code, decided = cli_decide(
        review.id, hub.second_institute_admin, Decision.CONFIRM, f"До {hub.other_hub_edrpou}"
    )
    assert code == 0, decided
    wait_for_step(run_id, closed_step, api_url)
    review = _task(database_url, process_id, closed_step)
    code, decided = cli_decide(review.id, hub.second_institute_admin, Decision.DEACTIVATE)
    assert code == 0, decided

    view = wait_for_process(database_url, process_id)
    assert view.state == "completed", view.outcome
    with unit_of_work(database_url) as s:
        account = s.get_one(Account, hub.account_id)
        assert account.state == AccountState.DEACTIVATED and account.deactivated_at is not None
        assert s.get_one(Person, hub.director).state == PersonState.INACTIVE
        assert s.get_one(OisGrant, hub.grant).state == GrantState.REVOKED
        assert s.get_one(OrgUnit, hub.branch_moved).parent_id == hub.other_hub
        assert s.get_one(Account, hub.branch_closed_account).state == AccountState.DEACTIVATED
        branches = {
            b["branch_id"]: b["outcome"] for b in s.get_one(Process, process_id).parameters["branches"]
        }
    assert branches == {hub.branch_moved: "moved", hub.branch_closed: "deactivated"}
    history = [h.action_uk for h in view.history]
    assert "філію перенесено до іншого опорного закладу: «Філія Вишнева» → «Ліцей Сусідній»" in history
    assert _key_states(database_url, hub.account_id) == {KeyState.DEACTIVATED}
    assert _key_check(cli, hub.api_token) == "deactivated"

    # The managing ОУО's admin receives the email through SMTP.
    mailbox = tmp_path / "mailbox"
    port = _free_port()
    sink = start_sink(mailbox, port=port)
    try:
        mail_settings = Settings(database_url=database_url, smtp_port=port)
        while deliver_pending_sync(mail_settings, session_factory(database_url)).sent:
            pass
    finally:
        sink.stop()
    with unit_of_work(database_url) as s:
        school_name = s.get_one(OrgUnit, hub.school_id).name
    received = [m for m in read_mailbox(mailbox) if m.to == hub.hromada_admin_email]
    assert received, [m.to for m in read_mailbox(mailbox)]
    assert school_name in received[0].subject and "несанкціоноване втручання" in received[0].text
    assert "Філію «Філія Вишнева» перенесено до опорного закладу «Ліцей Сусідній»." in received[0].text
    assert "не підлягає подальшому використанню" in received[0].text

    code, chain = cli("audit", "verify")
    assert code == 0 and chain["ok"] is True


def test_a_liquidation_by_the_hromada_is_final(
    cli: CliCall, cli_decide: SignedDecide, database_url: str, api_url: str, tmp_path: Path
) -> None:
    hub = _hub(database_url, branches=False)

    # A hromada admin may not give a security reason: refused, nothing started, keys untouched.
    code, refused = _try_start(cli, tmp_path, hub.hromada_admin, org=hub.edrpou, reason="cyber_incident")
    assert code == 1 and refused["error"] == "reason_not_allowed", refused
    assert refused["message"].startswith("Причина деактивації: «кіберзагроза")
    assert _key_check(cli, hub.api_token) == "ok"

    process_id, run_id = _start(cli, tmp_path, hub.hromada_admin, org=hub.edrpou, reason="liquidation")
    assert _key_check(cli, hub.api_token) == "ok"  # liquidation suspends nothing
    wait_for_step(run_id, "approve", api_url)
    approve = _task(database_url, process_id, "approve")
    code, decided = cli_decide(approve.id, hub.institute_admin, Decision.APPROVE)
    assert code == 0, decided
    view = wait_for_process(database_url, process_id)
    assert view.state == "completed", view.outcome

    # Final: deactivating again, or opening it again, is refused in Ukrainian.
    code, again = _try_start(cli, tmp_path, hub.institute_admin, org=hub.edrpou, reason="cyber_incident")
    assert code == 1 and again["error"] == "account_already_deactivated", again
    assert "не підлягає подальшому використанню" in again["message"]
    with unit_of_work(database_url) as s, pytest.raises(deactivation.AccountFinallyDeactivated) as caught:
        admin = s.get_one(Person, hub.institute_admin)
        deactivation.reactivate_account(
            session=s, actor=Actor(person_id=admin.id, label=admin.full_name), org=str(hub.school_id)
        )
    assert "відновити його не можна" in caught.value.message_uk
    with unit_of_work(database_url) as s:
        account = s.get_one(Account, hub.account_id)
        assert (account.state, account.deactivation_reason) == (
            AccountState.DEACTIVATED,
            DeactivationReason.LIQUIDATION,
        )


def test_bulk_deactivation_of_liquidated_schools_reports_each(
    cli: CliCall, cli_decide: SignedDecide, database_url: str, api_url: str, tmp_path: Path
) -> None:
    hub = _hub(database_url, branches=False)
    with unit_of_work(database_url) as s:
        hromada = s.get_one(OrgUnit, s.get_one(OrgUnit, hub.school_id).parent_id)
        oblast_id = hromada.oblast_id
        schools = []
        for n in range(3):
            school = f.org_unit(
                s, level=OrgLevel.SCHOOL, parent=hromada, oblast_id=oblast_id, status=OrgStatus.LIQUIDATED,
                managing_body_id=hromada.id, name=f"Ліквідована школа {n + 1}",
            )  # fmt: skip
            f.account(s, school)
            schools.append(school.id)
    form = tmp_path / "bulk.json"
    form.write_text(json.dumps({"oblast": str(oblast_id)}), encoding="utf-8")
    code, started = cli(
        "process", "start", "liquidated-deactivation", "--params", str(form), "--as", str(hub.institute_admin)
    )
    assert code == 0, started
    process_id, run_id = int(started["process_id"]), str(started["flow_run_id"])
    wait_for_step(run_id, "approve", api_url)

    # Meanwhile one of them is deactivated on its own.
    with unit_of_work(database_url) as s:
        account = s.scalars(select(Account).where(Account.org_unit_id == schools[0])).one()
        account.state = AccountState.DEACTIVATED
        account.deactivation_reason = DeactivationReason.LIQUIDATION

    approve = _task(database_url, process_id, "approve")
    assert ["Закладів", "3 (реєстр позначає ліквідованими, обліковий запис відкритий)"] in approve.details[
        "shown"
    ]
    code, refused = cli(
        "tasks", "document", str(approve.id), "--as", str(hub.institute_admin), "--decision", "approve",
        "--out", str(tmp_path / "own.json"),
    )  # fmt: skip
    assert code == 1 and refused["error"] == "four_eyes"
    code, decided = cli_decide(approve.id, hub.second_institute_admin, Decision.APPROVE, "Перелік перевірено")
    assert code == 0, decided

    view = wait_for_process(database_url, process_id)
    assert view.state == "completed", view.outcome
    assert view.outcome == "Деактивовано: 2; пропущено: 1."
    history = [h.action_uk for h in view.history]
    assert (
        "ліквідований заклад пропущено: «Ліквідована школа 1» — обліковий запис уже деактивовано" in history
    )
    assert "обліковий запис ліквідованого закладу деактивовано: «Ліквідована школа 2»" in history
    with unit_of_work(database_url) as s:
        report = s.get_one(Process, process_id).parameters["report"]
        states = {
            a.org_unit_id: (a.state, a.deactivation_reason)
            for a in s.scalars(select(Account).where(Account.org_unit_id.in_(schools)))
        }
        audited = {
            (e.action, e.object_id)
            for e in s.scalars(select(AuditEntry).where(AuditEntry.action.like("liquidated_deactivation.%")))
        }
    assert {k: (v["outcome"], v["note"]) for k, v in report.items()} == {
        str(schools[0]): ("skipped", "обліковий запис уже деактивовано"),
        str(schools[1]): ("deactivated", None),
        str(schools[2]): ("deactivated", None),
    }
    assert set(states.values()) == {(AccountState.DEACTIVATED, DeactivationReason.LIQUIDATION)}
    assert {
        ("liquidated_deactivation.skipped", str(schools[0])),
        ("liquidated_deactivation.deactivated", str(schools[1])),
        ("liquidated_deactivation.deactivated", str(schools[2])),
    } <= audited


def test_keys_stay_suspended_when_nobody_decides_and_a_new_rejected_deactivation_restores_them(
    cli: CliCall, cli_decide: SignedDecide, database_url: str, api_url: str, tmp_path: Path
) -> None:
    hub = _hub(database_url, branches=False)
    process_id, run_id = _start(cli, tmp_path, hub.institute_admin, org=hub.edrpou, reason="cyber_incident")
    wait_for_step(run_id, "approve", api_url)
    approve = _task(database_url, process_id, "approve")

    # Nobody decides in time (there is no level above the institute): the step expires, the keys stay
    # suspended — a security suspension never lapses by itself.
    with unit_of_work(database_url) as s:
        s.get_one(ApprovalTask, approve.id).due_at = datetime.now(UTC) - timedelta(minutes=1)
    code, report = cli("reconcile")
    assert code == 0 and approve.id in report["expired"], report
    view = wait_for_process(database_url, process_id)
    assert (
        view.state == "expired" and view.outcome is not None and "залишаються призупиненими" in view.outcome
    )
    assert _key_check(cli, hub.api_token) == "suspended"

    # A new deactivation takes the suspended keys over; its rejection makes them work again.
    process_id, run_id = _start(cli, tmp_path, hub.institute_admin, org=hub.edrpou, reason="cyber_incident")
    wait_for_step(run_id, "approve", api_url)
    code, decided = cli_decide(
        _task(database_url, process_id, "approve").id, hub.second_institute_admin, Decision.REJECT
    )
    assert code == 0, decided
    assert wait_for_process(database_url, process_id).state == "rejected"
    assert _key_check(cli, hub.api_token) == "ok"
