"""`aikom tasks list|claim|release|assign|batch-document|decide-many`: the work queue from the command line
and many decisions under one КЕП signature."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from aikom.db import unit_of_work
from aikom.models import ApprovalTask, Decision, OrgLevel, Person, PersonRole, SignedDecision, TaskState
from tests import factories as f
from tests.cli.conftest import Aikom
from tests.signing import SigningPki, decide_signed, sign


@dataclass
class Queue:
    """A hromada with two admins, three open requests from a rayon admin, a deputy and an outsider."""

    tasks: list[int]
    admin: int
    colleague: int
    requester: int
    deputy: int
    outsider: int
    oblast: int
    other_oblast: int


def _queue(count: int = 3) -> Queue:
    with unit_of_work(None) as s:
        units = f.cascade(s, with_edrpou=True)
        other_oblast = f.org_unit(s, level=OrgLevel.OBLAST, parent=units["national"])
        neighbour = f.org_unit(s, level=OrgLevel.HROMADA, parent=units["rayon"], oblast_id=units["oblast"].id)
        hromada = f.account(s, units["hromada"])
        school = f.account(s, units["school"])
        admin = f.person(s, hromada, role=PersonRole.HROMADA_ADMIN, rnokpp=f.rnokpp())
        colleague = f.person(s, hromada, role=PersonRole.HROMADA_ADMIN, rnokpp=f.rnokpp())
        requester = f.person(s, f.account(s, units["rayon"]), role=PersonRole.RAYON_ADMIN, rnokpp=f.rnokpp())
        director = f.person(s, school, role=PersonRole.DIRECTOR)
        tasks = [
            f.approval_task(
                s, requester=requester, subject=units["school"], scope=units["hromada"],
                allowed_roles=[PersonRole.HROMADA_ADMIN], due_business_days=5,
            )[1].id
            for _ in range(count)
        ]  # fmt: skip
        return Queue(
            tasks=tasks,
            admin=admin.id,
            colleague=colleague.id,
            requester=requester.id,
            deputy=f.person(s, school, role=PersonRole.DEPUTY, appointed_by=director).id,
            outsider=f.person(s, f.account(s, neighbour), role=PersonRole.HROMADA_ADMIN).id,
            oblast=units["oblast"].id,
            other_oblast=other_oblast.id,
        )


def _state(task_id: int) -> tuple[TaskState, int | None, int | None]:
    with unit_of_work(None) as s:
        task = s.get_one(ApprovalTask, task_id)
        return task.state, task.decided_by_id, task.claimed_by_id


def _listed(aikom: Aikom, person: int, *args: str) -> list[int]:
    code, page = aikom("tasks", "list", "--as", str(person), *args)
    assert code == 0, page
    return [row["task_id"] for row in page["rows"]]


def _signed_file(signing_pki: SigningPki, person_id: int, document: Path) -> Path:
    """Sign `document` with the person's own КЕП (as their signing app would), next to it as .p7s."""
    with unit_of_work(None) as s:
        holder = signing_pki.certificate_for(s, s.get_one(Person, person_id))
    signature = document.with_suffix(".p7s")
    signature.write_bytes(sign(holder, document.read_bytes()))
    return signature


def test_list_filters_the_queue(aikom: Aikom) -> None:
    q = _queue()
    first, second, third = q.tasks
    with unit_of_work(None) as s:
        s.get_one(ApprovalTask, third).due_at = datetime.now(UTC) - timedelta(minutes=1)

    code, page = aikom("tasks", "list", "--as", str(q.admin))
    assert code == 0
    assert [r["task_id"] for r in page["rows"]] == [third, first, second]  # oldest due first
    assert (page["total"], page["overdue"], page["unassigned"]) == (3, 1, 3)
    assert page["rows"][0]["overdue"] is True
    assert _listed(aikom, q.admin, "--overdue") == [third]
    assert _listed(aikom, q.admin, "--type", "demo-approval", "--oblast", str(q.oblast)) == [
        third,
        first,
        second,
    ]
    assert _listed(aikom, q.admin, "--oblast", str(q.other_oblast)) == []
    assert _listed(aikom, q.requester) == []  # four-eyes
    assert _listed(aikom, q.outsider) == []  # another hromada

    code, refused = aikom("tasks", "list", "--as", str(q.admin), "--mine", "--unassigned")
    assert code == 1 and "--mine" in refused["message"]
    code, refused = aikom("tasks", "list", "--as", str(q.admin), "--type", "no-such-process")
    assert code == 1 and refused["error"] == "unknown_process_type"


def test_the_claimer_decides_and_a_colleague_is_refused(
    aikom: Aikom, signing_pki: SigningPki, tmp_path: Path
) -> None:
    q = _queue(1)
    (task,) = q.tasks

    code, claimed = aikom("tasks", "claim", str(task), "--as", str(q.admin))
    assert code == 0 and claimed["claimed_by_id"] == q.admin
    assert _listed(aikom, q.admin, "--mine") == [task]
    assert _listed(aikom, q.colleague, "--unassigned") == []

    code, refused = aikom("tasks", "claim", str(task), "--as", str(q.colleague))
    assert code == 1 and refused["error"] == "task_claimed" and "взяв у роботу" in refused["message"]
    code, refused = aikom(
        "tasks", "document", str(task), "--as", str(q.colleague), "--decision", "approve",
        "--out", str(tmp_path / "colleague.json"),
    )  # fmt: skip
    assert code == 1 and refused["error"] == "task_claimed"
    assert not (tmp_path / "colleague.json").exists()

    document = tmp_path / "decision.json"
    code, _ = aikom(
        "tasks", "document", str(task), "--as", str(q.admin), "--decision", "approve", "--out", str(document)
    )  # fmt: skip
    assert code == 0
    signature = _signed_file(signing_pki, q.admin, document)
    code, decided = aikom(
        "tasks", "decide", str(task), "--as", str(q.admin), "--decision", "approve",
        "--document", str(document), "--signature", str(signature),
    )  # fmt: skip
    assert code == 0, decided
    assert decided["resume"] == "no_run" and "погодити" in decided["message"]
    assert _state(task)[:2] == (TaskState.DECIDED, q.admin)


def test_release_hands_the_task_back_only_by_its_claimer(aikom: Aikom) -> None:
    q = _queue(1)
    (task,) = q.tasks
    aikom("tasks", "claim", str(task), "--as", str(q.admin))

    code, refused = aikom("tasks", "release", str(task), "--as", str(q.outsider))
    assert code == 1 and refused["error"] == "not_the_claimer"
    assert _state(task)[2] == q.admin

    code, released = aikom("tasks", "release", str(task), "--as", str(q.admin))
    assert code == 0 and released["claimed_by_id"] is None
    code, claimed = aikom("tasks", "claim", str(task), "--as", str(q.colleague))
    assert code == 0 and claimed["claimed_by"] is not None


def test_assign_gives_the_task_to_a_colleague_but_never_to_a_deputy_or_outsider(aikom: Aikom) -> None:
    q = _queue(1)
    (task,) = q.tasks

    code, refused = aikom("tasks", "assign", str(task), "--to", str(q.deputy), "--as", str(q.admin))
    assert code == 1 and refused["error"] == "assign_not_allowed"
    assert refused["message"].startswith("Кому: заступнику не можна передати завдання")
    code, refused = aikom("tasks", "assign", str(task), "--to", str(q.outsider), "--as", str(q.admin))
    assert code == 1 and refused["error"] == "assign_not_allowed"
    assert "не може розглядати" in refused["message"]
    assert _state(task)[2] is None

    code, assigned = aikom("tasks", "assign", str(task), "--to", str(q.colleague), "--as", str(q.admin))
    assert code == 0 and assigned["claimed_by_id"] == q.colleague
    assert _listed(aikom, q.colleague, "--mine") == [task]


def _batch(aikom: Aikom, person: int, out: Path, *choices: str) -> tuple[int, dict[str, object]]:
    args = [arg for choice in choices for arg in ("--decide", choice)]
    code, written = aikom("tasks", "batch-document", "--as", str(person), *args, "--out", str(out))
    return code, written


def test_many_tasks_decided_with_one_signature(aikom: Aikom, signing_pki: SigningPki, tmp_path: Path) -> None:
    q = _queue()
    first, second, third = q.tasks
    document = tmp_path / "batch.json"
    code, written = _batch(
        aikom,
        q.admin,
        document,
        f"{first}:approve:Погоджено",
        f"{second}:reject:Бракує наказу",
        f"{third}:approve",
    )
    assert code == 0, written
    signature = _signed_file(signing_pki, q.admin, document)

    code, outcome = aikom(
        "tasks", "decide-many", "--as", str(q.admin),
        "--document", str(document), "--signature", str(signature),
    )  # fmt: skip

    assert code == 0, outcome
    assert (outcome["ok"], outcome["decided"], outcome["refused"]) == (True, 3, 0)
    assert [i["task_id"] for i in outcome["items"]] == [first, second, third]
    with unit_of_work(None) as s:
        tasks = {t.id: t for t in s.scalars(select(ApprovalTask).where(ApprovalTask.id.in_(q.tasks)))}
        assert [(tasks[t].decision, tasks[t].comment) for t in q.tasks] == [
            (Decision.APPROVE, "Погоджено"), (Decision.REJECT, "Бракує наказу"), (Decision.APPROVE, None),
        ]  # fmt: skip
        stored = s.scalars(select(SignedDecision).where(SignedDecision.task_id == first)).one()
        assert stored.document == document.read_bytes() and stored.signer_person_id == q.admin
    # Each decision re-verifies on its own, from the one batch signature.
    code, verified = aikom("decision", "verify", str(stored.id))
    assert code == 0 and verified["ok"] is True


def test_a_batch_document_that_does_not_match_the_selection_decides_nothing(
    aikom: Aikom, signing_pki: SigningPki, tmp_path: Path
) -> None:
    q = _queue()
    first, second, _ = q.tasks
    document = tmp_path / "batch.json"
    assert _batch(aikom, q.admin, document, f"{first}:approve", f"{second}:approve")[0] == 0
    signature = _signed_file(signing_pki, q.admin, document)
    signed = ["--document", str(document), "--signature", str(signature)]

    code, refused = aikom(
        "tasks", "decide-many", "--as", str(q.admin), *signed, "--decide", f"{first}:approve"
    )
    assert code == 1 and refused["error"] == "batch_document_mismatch"
    assert refused["message"] == (
        f"Підписаний пакетний документ не відповідає вибраним завданням: у документі завдання {first}, "
        f"{second}, а вибрано {first}."
    )
    code, refused = aikom(
        "tasks", "decide-many", "--as", str(q.admin), *signed, "--decide", f"{first}:approve",
        "--decide", f"{second}:reject",
    )  # fmt: skip
    assert code == 1 and f"завдання №{second} має рішення «approve», а вибрано «reject»" in refused["message"]
    code, refused = aikom("tasks", "decide-many", "--as", str(q.colleague), *signed)
    assert code == 1 and "для іншої особи" in refused["message"]
    assert [_state(t)[0] for t in q.tasks] == [TaskState.OPEN] * 3


def test_a_batch_with_a_task_decided_meanwhile_reports_it_and_decides_the_others(
    aikom: Aikom, signing_pki: SigningPki, tmp_path: Path
) -> None:
    q = _queue()
    first, second, third = q.tasks
    document = tmp_path / "batch.json"
    assert _batch(aikom, q.admin, document, *(f"{t}:approve" for t in q.tasks))[0] == 0
    signature = _signed_file(signing_pki, q.admin, document)
    with unit_of_work(None) as s:  # the colleague decides the second one in the meantime
        decide_signed(
            s, signing_pki, task_id=second, actor=s.get_one(Person, q.colleague), decision=Decision.REJECT
        )

    code, outcome = aikom(
        "tasks", "decide-many", "--as", str(q.admin),
        "--document", str(document), "--signature", str(signature),
    )  # fmt: skip

    assert code == 1
    assert (outcome["ok"], outcome["decided"], outcome["refused"]) == (False, 2, 1)
    items = {i["task_id"]: i for i in outcome["items"]}
    assert items[first]["ok"] and items[third]["ok"]
    assert not items[second]["ok"]
    assert items[second]["message"] == f"Завдання №{second} уже розглянуто: рішення «відхилити» вже ухвалено."
    assert _state(first)[:2] == (TaskState.DECIDED, q.admin) and _state(third)[:2] == (
        TaskState.DECIDED,
        q.admin,
    )
    assert _state(second)[1] == q.colleague


def test_a_batch_is_not_written_for_tasks_the_person_may_not_decide(aikom: Aikom, tmp_path: Path) -> None:
    q = _queue(2)
    first, second = q.tasks
    aikom("tasks", "claim", str(second), "--as", str(q.colleague))
    document = tmp_path / "batch.json"

    code, refused = _batch(aikom, q.admin, document, f"{first}:approve", f"{second}:approve")
    assert code == 1 and "взяв у роботу" in str(refused["message"])
    code, refused = _batch(aikom, q.admin, document, f"{first}:maybe")
    assert code == 1 and str(refused["message"]).startswith("Рішення: «maybe» не є рішенням")
    code, refused = _batch(aikom, q.admin, document, "перше:approve")
    assert code == 1 and "НОМЕР:РІШЕННЯ" in str(refused["message"])
    assert not document.exists()
    code, refused = aikom(
        "tasks", "decide-many", "--as", str(q.admin), "--decide", f"{first}:approve", "--demo-sign"
    )
    assert code == 1 and "демонстраційного ключа" in refused["message"]
    assert _state(first)[0] == TaskState.OPEN
