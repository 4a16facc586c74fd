"""The national rollout on a whole oblast of the real register: one signed approval, accounts opened in
batches, the runner killed mid-way and the run repaired — and still no account, key or email made twice."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from aikom.db import unit_of_work
from aikom.imports.katottg import import_katottg
from aikom.imports.schools import import_schools
from aikom.models import (
    AccessKey,
    Account,
    AccountState,
    ApprovalTask,
    Decision,
    EmailMessage,
    OrgLevel,
    OrgUnit,
    PersonRole,
    Process,
    RolloutItem,
    RolloutOutcome,
)
from aikom.orchestration.engine import Engine
from aikom.orchestration.runner import start_runner
from aikom.services.reconcile import crash_orphaned_runs, reconcile
from tests import factories
from tests.conftest import SHARED_DATA
from tests.flows.conftest import CliCall, SignedDecide, wait_for_process, wait_for_step

OBLAST_CODE = "UA35"  # Кіровоградська область: ~320 schools in the register
OBLAST_NAME = "Кіровоградська область"


def _excerpt(tmp: Path) -> tuple[Path, Path]:
    """The oblast's rows of the codifier and of the register (read from the shared data, never committed)."""
    codifier = tmp / "katottg.csv"
    with (SHARED_DATA / "katottg-2025-05-16.csv").open(encoding="utf-8-sig") as source:
        lines = source.read().splitlines()
    codifier.write_text(
        "\n".join([lines[0], *(x for x in lines[1:] if x.startswith(OBLAST_CODE))]), encoding="utf-8"
    )
    register = tmp / "register.csv"
    with (SHARED_DATA / "edebo-schools-register.csv").open(encoding="utf-8-sig", newline="") as source:
        reader = csv.DictReader(source)
        with register.open("w", encoding="utf-8", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=reader.fieldnames or [])
            writer.writeheader()
            writer.writerows(r for r in reader if r["region_name_u"] == OBLAST_NAME)
    return codifier, register


@pytest.fixture(scope="module")
def oblast(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The oblast's КАТОТТГ units and schools imported into the test database; its КАТОТТГ code."""
    codifier, register = _excerpt(tmp_path_factory.mktemp("rollout-registers"))
    with unit_of_work(database_url) as s:
        import_katottg(session=s, path=codifier)
        import_schools(
            session=s,
            path=register,
            codifier_path=codifier,
            comparison_path=SHARED_DATA / "katottg-koatuu-comparison.csv",
        )
        unit = s.scalars(
            select(OrgUnit).where(OrgUnit.level == OrgLevel.OBLAST, OrgUnit.katottg.like(f"{OBLAST_CODE}%"))
        ).one()
        assert unit.katottg is not None
        return unit.katottg


def _admins(database_url: str) -> tuple[int, int]:
    with unit_of_work(database_url) as s:
        national = s.scalars(
            select(OrgUnit).where(OrgUnit.level == OrgLevel.NATIONAL).order_by(OrgUnit.id)
        ).first()
        assert national is not None
        if national.edrpou is None:  # the Institute's ЄДРПОУ: its admins sign with it
            national.edrpou = factories.edrpou()
        account = s.scalars(
            select(Account).where(Account.org_unit_id == national.id)
        ).first() or factories.account(s, national)
        first, second = (
            factories.person(s, account, role=PersonRole.INSTITUTE_ADMIN, rnokpp=factories.rnokpp())
            for _ in range(2)
        )
        return first.id, second.id


def _items(database_url: str, process_id: int) -> int:
    with unit_of_work(database_url) as s:
        return int(s.scalar(select(func.count()).where(RolloutItem.process_id == process_id)) or 0)


def test_an_oblast_is_rolled_out_in_batches_and_a_killed_runner_opens_nothing_twice(
    cli: CliCall,
    cli_decide: SignedDecide,
    oblast: str,
    database_url: str,
    api_url: str,
    process_engine: Engine,
    tmp_path: Path,
) -> None:
    starter, approver = _admins(database_url)
    params = tmp_path / "rollout.json"
    params.write_text(json.dumps({"level": "school", "scope": oblast, "batch_size": 15}), encoding="utf-8")

    # 1. An institute admin starts it; another institute admin approves with a signed decision.
    code, started = cli("process", "start", "rollout", "--params", str(params), "--as", str(starter))
    assert code == 0, started
    process_id, run_id = int(started["process_id"]), str(started["flow_run_id"])
    wait_for_step(run_id, "approve", api_url)
    with unit_of_work(database_url) as s:
        process = s.get_one(Process, process_id)
        total = int(process.parameters["total"])
        task_id = s.scalars(select(ApprovalTask.id).where(ApprovalTask.process_id == process_id)).one()
    assert total > 200
    code, refused = cli(
        "tasks", "document", str(task_id), "--as", str(starter), "--decision", "approve",
        "--out", str(tmp_path / "own.json"),
    )  # fmt: skip
    assert code == 1 and refused["error"] == "four_eyes", refused  # not the one who started it
    code, decided = cli_decide(task_id, approver, Decision.APPROVE, "Розгортання погоджено")
    assert code == 0, decided

    # 2. Mid-way, the runner dies with the run "running"; `aikom up` again marks it Crashed, the reconciler
    #    re-runs it, and it goes on from the units it has not handled.
    deadline = time.monotonic() + 120
    while _items(database_url, process_id) < 30 and time.monotonic() < deadline:
        time.sleep(0.05)
    process_engine.runner.kill_group()  # the runner and the flow process it was running
    handled_at_kill = _items(database_url, process_id)
    try:
        assert 0 < handled_at_kill < total, "the rollout should have been stopped mid-way"
        crash_orphaned_runs(api_url=api_url)
    finally:
        process_engine.runner = start_runner(process_engine.settings, api_url=api_url, with_schedules=False)
    report = reconcile(db_url=database_url, api_url=api_url)
    assert process_id in report.repaired
    view = wait_for_process(database_url, process_id, timeout=240)
    assert view.state == "completed", view.outcome

    # 3. Every unit handled once; each opened unit: one PENDING account, two keys, one base-key email to its
    #    official address; units without a valid address listed, with no account.
    with unit_of_work(database_url) as s:
        items = s.execute(
            select(RolloutItem.org_unit_id, RolloutItem.outcome).where(RolloutItem.process_id == process_id)
        ).all()
        assert len(items) == total
        opened = [unit for unit, outcome in items if outcome == RolloutOutcome.OPENED]
        no_email = [unit for unit, outcome in items if outcome == RolloutOutcome.NO_EMAIL]
        assert opened and len(opened) + len(no_email) == total
        accounts = s.execute(
            select(Account.org_unit_id, Account.state, func.count(AccessKey.id))
            .join(AccessKey, AccessKey.account_id == Account.id)
            .where(Account.org_unit_id.in_(opened))
            .group_by(Account.org_unit_id, Account.state)
        ).all()
        assert len(accounts) == len(opened)
        assert all(state == AccountState.PENDING and keys == 2 for _, state, keys in accounts)
        emails = s.scalar(
            select(func.count()).where(EmailMessage.idempotency_key.like(f"rollout-{process_id}-unit-%"))
        )
        assert emails == len(opened)
        assert s.scalar(select(func.count()).where(Account.org_unit_id.in_(no_email))) == 0
    assert view.progress[0].done == total
    code, gaps = cli(
        "process", "rollout-report", str(process_id), "--as", str(starter), "--outcome", "no_email"
    )
    assert code == 0 and {u["org_unit_id"] for u in gaps["units"]} == set(no_email)
    assert all(u["note"] for u in gaps["units"])
