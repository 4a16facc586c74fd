"""The reconciler while the process engine is unreachable: decisions stay committed, nothing is lost.

(With a real Prefect server the reconciler is exercised in tests/flows.)
"""

from __future__ import annotations

import socket
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from aikom.db import unit_of_work
from aikom.models import ApprovalTask, Decision, Person, PersonRole, ProcessState, TaskState
from aikom.orchestration.adapter import OrchestratorUnavailable
from aikom.services import approvals, processes
from aikom.services.reconcile import WakeResult, launch_process, reconcile, wake_for_task
from tests import factories as f
from tests.signing import SigningPki, decide_signed


@pytest.fixture
def dead_api_url() -> str:
    """An API URL nobody listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/api"


def _waiting_process(
    database_url: str, *, overdue: bool = False, allowed: PersonRole = PersonRole.OBLAST_ADMIN
) -> tuple[int, int, int]:
    """A committed process with a flow run id and an open task (overdue if asked) that `allowed` admins
    decide; (process id, task id, approver id)."""
    with unit_of_work(database_url) as s:
        c = f.cascade(s, with_edrpou=True)
        requester = f.person(s, f.account(s, c["rayon"]), role=PersonRole.RAYON_ADMIN)
        unit = c["national"] if allowed == PersonRole.INSTITUTE_ADMIN else c["oblast"]
        approver = f.person(s, f.account(s, unit), role=allowed, rnokpp=f.rnokpp())
        process, task = f.approval_task(
            s,
            requester=requester,
            subject=c["hromada"],
            scope=c["hromada"],
            allowed_roles=[allowed],
        )
        if overdue:
            task.due_at = datetime.now(UTC) - timedelta(minutes=1)
        processes.attach_flow_run(session=s, process_id=process.id, flow_run_id=str(uuid.uuid4()))
        return process.id, task.id, approver.id


def test_a_decision_stays_committed_when_the_engine_is_down(
    database_url: str, dead_api_url: str, signing_pki: SigningPki
) -> None:
    _, task_id, approver_id = _waiting_process(database_url)
    with unit_of_work(database_url) as s:
        decide_signed(
            s, signing_pki, task_id=task_id, actor=s.get_one(Person, approver_id), decision=Decision.APPROVE
        )

    assert wake_for_task(task_id, db_url=database_url, api_url=dead_api_url) == WakeResult.UNAVAILABLE

    with unit_of_work(database_url) as s:
        task = s.get_one(ApprovalTask, task_id)
        assert task.state == TaskState.DECIDED
        assert task.resumed_at is None
        candidates = approvals.tasks_to_resume(session=s, limit=10_000)
    assert task_id in [c.task_id for c in candidates]


def test_reconcile_runs_deadlines_even_when_the_engine_is_down(database_url: str, dead_api_url: str) -> None:
    # Overdue below the top of the cascade: escalated one level up; at the top (institute): expired.
    _, below_top, _ = _waiting_process(database_url, overdue=True)
    _, at_top, _ = _waiting_process(database_url, overdue=True, allowed=PersonRole.INSTITUTE_ADMIN)

    report = reconcile(db_url=database_url, api_url=dead_api_url)

    assert below_top in report.escalated and below_top not in report.expired
    assert at_top in report.expired
    assert report.orchestrator_available is False
    with unit_of_work(database_url) as s:
        escalated = s.get_one(ApprovalTask, below_top)
        assert escalated.state == TaskState.OPEN and escalated.escalation_level == 1
        assert escalated.allowed_roles == [PersonRole.OBLAST_ADMIN.value, PersonRole.INSTITUTE_ADMIN.value]
        assert escalated.due_at is not None and escalated.due_at > datetime.now(UTC)
        assert s.get_one(ApprovalTask, at_top).state == TaskState.EXPIRED
        # The expired task waits for its run to be woken (the reconciler does it once Prefect is back).
        assert at_top in [c.task_id for c in approvals.tasks_to_resume(session=s, limit=10_000)]


def test_a_process_started_while_the_engine_is_down_waits_for_launch(
    database_url: str, dead_api_url: str
) -> None:
    with unit_of_work(database_url) as s:
        c = f.cascade(s)
        requester = f.person(s, f.account(s, c["rayon"]), role=PersonRole.RAYON_ADMIN)
        process_id = processes.create_process(
            session=s, type="demo-approval", actor=f.actor(requester), subject_org_unit_id=c["hromada"].id
        ).id

    with pytest.raises(OrchestratorUnavailable):
        launch_process(process_id, db_url=database_url, api_url=dead_api_url)

    with unit_of_work(database_url) as s:
        assert processes.get_process(session=s, process_id=process_id).state == ProcessState.STARTING
        stuck = processes.processes_without_run(
            session=s, older_than=timedelta(seconds=30), now=datetime.now(UTC) + timedelta(minutes=1)
        )
    assert process_id in [p.id for p in stuck]
