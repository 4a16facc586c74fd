"""The workflow platform end to end (a real Prefect server and runner): a process declared only in the
registry started from the CLI on a requester's behalf, four-eyes for both; an overdue approval escalated
up the cascade and decided there, the process going on to completion."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from aikom.db import unit_of_work
from aikom.models import ApprovalTask, Decision, EmailMessage, OrgUnit, Person, PersonRole, Process
from aikom.services.approvals import FIRST_SIGNIN_STEP
from tests import factories
from tests.flows.conftest import (
    CliCall,
    SignedDecide,
    World,
    wait_for_paused,
    wait_for_process,
    wait_for_step,
)
from tests.flows.test_director_replacement import _school, _start, _task
from tests.signing import SigningPki, sign


def _institute_admin(database_url: str, world: World) -> int:
    """An institute admin of the world's country (who may act on a requester's behalf)."""
    with unit_of_work(database_url) as s:
        national = s.get_one(OrgUnit, s.get_one(OrgUnit, world.oblast).parent_id)
        account = factories.account(s, national)
        return factories.person(s, account, role=PersonRole.INSTITUTE_ADMIN, rnokpp=factories.rnokpp()).id


def test_a_registry_process_started_on_behalf_of_a_requester_completes_under_four_eyes(
    world: World, cli: CliCall, cli_decide: SignedDecide, database_url: str, api_url: str, tmp_path: Path
) -> None:
    agent = _institute_admin(database_url, world)
    params = tmp_path / "demo.json"
    params.write_text(json.dumps({"org": world.hromada, "title": "Перевірка доступу"}), encoding="utf-8")

    # 1. Started from the CLI by the agent for the requester: the registry knows the process and its flow.
    code, started = cli(
        "process", "start", "demo-approval", "--params", str(params), "--as", str(agent),
        "--on-behalf-of", str(world.requester),
    )  # fmt: skip
    assert code == 0, started
    assert started["started"] is True
    run = wait_for_paused(started["flow_run_id"], api_url)
    assert run.pause_key == "approval-approve-1x0"
    process_id = started["process_id"]
    with unit_of_work(database_url) as s:
        process = s.get_one(Process, process_id)
        assert (process.requester_person_id, process.started_by_id) == (world.requester, agent)
        task_id = s.scalars(select(ApprovalTask.id).where(ApprovalTask.process_id == process_id)).one()

    # 2. Four-eyes: neither the requester nor whoever started it for them may decide it.
    for starter in (agent, world.requester):
        code, listed = cli("tasks", "list", "--as", str(starter))
        assert code == 0 and task_id not in [r["task_id"] for r in listed["rows"]]
        code, refused = cli("tasks", "decide", str(task_id), "--as", str(starter), "--decision", "approve")
        assert code == 1 and refused["error"] == "four_eyes", refused
    code, listed = cli("tasks", "list", "--as", str(world.approver))
    (row,) = [r for r in listed["rows"] if r["task_id"] == task_id]
    assert row["process_title"] == "Демонстраційний запит: Перевірка доступу"

    # 3. Another admin in scope approves; the process completes.
    code, decided = cli_decide(task_id, world.approver, Decision.APPROVE, "Погоджено")
    assert code == 0 and decided["resume"] == "resumed", decided
    assert wait_for_process(database_url, process_id).state == "completed"
    code, shown = cli("process", "show", str(process_id), "--as", str(world.requester))
    assert code == 0
    assert shown["title"] == "Демонстраційний запит: Перевірка доступу"
    assert shown["flow_version"]
    assert shown["started_by"] is not None and shown["requester"] is not None
    (step,) = shown["steps"]
    assert (step["state_uk"], step["decision_uk"], step["comment"]) == (
        "рішення ухвалено",
        "погоджено",
        "Погоджено",
    )
    assert any(entry["action"] == "approval.decided" for entry in shown["history"])
    assert shown["history"][-1]["action_uk"] == "процес завершено: Запит погоджено."


def test_an_overdue_approval_escalates_to_the_rayon_which_decides_and_the_process_completes(
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
    process_id, run_id = _start(cli, tmp_path, school, new_rnokpp)
    wait_for_step(run_id, "approve", api_url)
    approve = _task(database_url, process_id, "approve")
    assert approve.allowed_roles == [PersonRole.HROMADA_ADMIN.value]

    # 1. Nobody in the hromada decided in time: the reconciler passes it one level up.
    with unit_of_work(database_url) as s:
        s.get_one(ApprovalTask, approve.id).due_at = datetime.now(UTC) - timedelta(minutes=1)
    code, report = cli("reconcile")
    assert code == 0 and approve.id in report["escalated"] and approve.id not in report["expired"]
    code, listed = cli("tasks", "list", "--as", str(school.rayon_admin))
    (row,) = [r for r in listed["rows"] if r["task_id"] == approve.id]
    assert row["escalation_level"] == 1 and row["overdue"] is False
    with unit_of_work(database_url) as s:
        rayon_admin = s.get_one(Person, school.rayon_admin)
        told = s.scalars(
            select(EmailMessage).where(
                EmailMessage.idempotency_key
                == f"approval-task-{approve.id}-escalated-1-person-{rayon_admin.id}"
            )
        ).one()
        assert told.template == "approval_notice"

    # 2. The rayon admin approves (signed); the run goes on to the new director's first sign-in.
    code, decided = cli_decide(approve.id, school.rayon_admin, Decision.APPROVE, "Погоджено на рівні району")
    assert code == 0 and decided["resume"] == "resumed", decided
    wait_for_step(run_id, FIRST_SIGNIN_STEP, api_url)
    with unit_of_work(database_url) as s:
        new_id = int(s.get_one(Process, process_id).parameters["new_director_id"])
        new_name = s.get_one(Person, new_id).full_name
    challenge_file = tmp_path / "challenge.txt"
    code, challenge = cli("signin", "challenge", "--out", str(challenge_file))
    assert code == 0
    holder = signing_pki.issue(name=new_name, edrpou=school.edrpou, rnokpp=new_rnokpp)
    signature = tmp_path / "challenge.p7s"
    signature.write_bytes(sign(holder, challenge_file.read_bytes()))
    code, signed_in = cli("signin", "complete", "--nonce", challenge["nonce"], "--signature", str(signature))
    assert code == 0 and signed_in["activated"] is True, signed_in
    assert new_rnokpp not in json.dumps(signed_in)

    # 3. The new director confirms the deputy; the process completes.
    deputy_step = f"deputy-{school.deputy}"
    wait_for_step(run_id, deputy_step, api_url)
    review = _task(database_url, process_id, deputy_step)
    code, decided = cli_decide(review.id, new_id, Decision.CONFIRM)
    assert code == 0, decided
    view = wait_for_process(database_url, process_id)
    assert view.state == "completed", view.outcome
    (approved,) = [step for step in view.steps if step.step_key == "approve"]
    assert approved.decided_by_id == school.rayon_admin and approved.escalation_level == 1
    assert any(entry.action == "approval.escalated" for entry in view.history)
    with unit_of_work(database_url) as s:
        outcome = s.scalars(
            select(EmailMessage).where(EmailMessage.idempotency_key == f"process-{process_id}-outcome")
        ).one()
    assert outcome.to_address == _email(database_url, school.requester)
    assert any(new_name in fact for fact in outcome.variables["facts"])


def _email(database_url: str, person_id: int) -> str:
    with unit_of_work(database_url) as s:
        return s.get_one(Person, person_id).email
