"""A branch end to end: a hub's director asks from the CLI, the managing ОУО's admin confirms or rejects
with a signed decision, a real Prefect server and runner create the branch; with its own ЄДРПОУ the base
key goes through a real SMTP sink to the branch's official address and its head's first КЕП sign-in
(with that key) activates the account."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from aikom.db import unit_of_work
from aikom.mail.sink import read_mailbox
from aikom.models import (
    Account,
    AccountState,
    Decision,
    EmailMessage,
    OrgLevel,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
    Process,
)
from aikom.services import processes
from aikom.services.approvals import FIRST_SIGNIN_STEP
from aikom.services.org import effective_edrpou
from tests import factories
from tests.flows.conftest import CliCall, SignedDecide, wait_for_process, wait_for_step
from tests.flows.test_cascade_provisioning import BASE_KEY, _deliver, _params, _signin
from tests.signing import SigningPki

APPROVE = "approve"


@dataclass
class HubWorld:
    """A committed hub school (ЄДЕБО: «Опорний») managed by a hromada; its director and the hromada admin."""

    school_id: int
    school_edrpou: str
    hub_account_id: int
    director: int
    admin: int


def _hub(database_url: str) -> HubWorld:
    with unit_of_work(database_url) as s:
        units = factories.cascade(s, with_edrpou=True)
        school = units["school"]
        school.edebo_mark = "hub"
        assert school.edrpou is not None
        account = factories.account(s, school)
        director = factories.person(s, account, role=PersonRole.DIRECTOR, rnokpp=factories.rnokpp())
        admin = factories.person(
            s,
            factories.account(s, units["hromada"]),
            role=PersonRole.HROMADA_ADMIN,
            rnokpp=factories.rnokpp(),
        )
        return HubWorld(school.id, school.edrpou, account.id, director.id, admin.id)


def _start(cli: CliCall, tmp_path: Path, world: HubWorld, params: dict[str, object]) -> tuple[int, str]:
    code, started = cli(
        "process", "start", "branch", "--as", str(world.director), "--params", _params(tmp_path, params)
    )
    assert code == 0, started
    return int(started["process_id"]), str(started["flow_run_id"])


def _approval_task(database_url: str, process_id: int) -> int:
    with unit_of_work(database_url) as s:
        view = processes.show_process(session=s, process_id=process_id)
    (step,) = [step for step in view.steps if step.step_key == APPROVE]
    return step.task_id


def _branches_of(database_url: str, school_id: int) -> list[OrgUnit]:
    with unit_of_work(database_url) as s:
        return list(s.scalars(select(OrgUnit).where(OrgUnit.parent_id == school_id)))


def _outcome_mail(database_url: str, process_id: int) -> EmailMessage:
    with unit_of_work(database_url) as s:
        return s.scalars(
            select(EmailMessage).where(EmailMessage.idempotency_key == f"process-{process_id}-outcome")
        ).one()


def test_a_branch_without_edrpou_is_confirmed_and_its_staff_sign_with_the_hubs_edrpou(
    cli: CliCall,
    cli_decide: SignedDecide,
    signing_pki: SigningPki,
    database_url: str,
    api_url: str,
    tmp_path: Path,
) -> None:
    world = _hub(database_url)
    process_id, run_id = _start(
        cli, tmp_path, world, {"name": "Філія «Калинка»", "settlement": "с. Калинівка"}
    )

    # 1. The run waits for the managing ОУО; nothing is created yet.
    wait_for_step(run_id, APPROVE, api_url)
    assert _branches_of(database_url, world.school_id) == []
    task_id = _approval_task(database_url, process_id)
    # The director who asked cannot decide it: only the hromada's admin.
    code, refused = cli(
        "tasks", "document", str(task_id), "--as", str(world.director), "--decision", "approve",
        "--out", str(tmp_path / "not-mine.json"),
    )  # fmt: skip
    assert code == 1, refused

    # 2. The hromada admin confirms it (signed); the branch hangs under the hub, the process completes.
    code, decided = cli_decide(task_id, world.admin, Decision.APPROVE)
    assert code == 0, decided
    view = wait_for_process(database_url, process_id)
    assert view.state == "completed", view.outcome
    assert "філію створено під опорним закладом" in [entry.action_uk for entry in view.history]
    (branch,) = _branches_of(database_url, world.school_id)
    assert (branch.level, branch.name, branch.edrpou, branch.settlement) == (
        OrgLevel.BRANCH,
        "Філія «Калинка»",
        None,
        "с. Калинівка",
    )
    with unit_of_work(database_url) as s:
        assert effective_edrpou(s, s.get_one(OrgUnit, branch.id)) == world.school_edrpou
        assert s.scalars(select(Account).where(Account.org_unit_id == branch.id)).first() is None
        director_email = s.get_one(Person, world.director).email
        # A responsible person of the branch (a deputy's card) acts within the hub's account.
        rnokpp = factories.rnokpp()
        teacher = factories.person(
            s,
            s.get_one(Account, world.hub_account_id),
            role=PersonRole.DEPUTY,
            rnokpp=rnokpp,
            name="Вчитель Філії",
        )
        teacher.org_unit_id = branch.id
        teacher_id = teacher.id
    outcome = _outcome_mail(database_url, process_id)
    assert outcome.to_address == director_email and outcome.variables["outcome"] == "філію створено"
    assert any("ЄДРПОУ опорного закладу" in line for line in outcome.variables["facts"])

    # 3. Their КЕП carries the hub's ЄДРПОУ, and that signs them in.
    code, signed_in = _signin(
        cli,
        signing_pki,
        tmp_path,
        name="Вчитель Філії",
        edrpou=world.school_edrpou,
        rnokpp=rnokpp,
        base_key=None,
    )
    assert code == 0 and signed_in["person_id"] == teacher_id, signed_in


def test_a_branch_with_its_own_edrpou_gets_an_account_and_its_head_signs_in_with_the_base_key(
    cli: CliCall,
    cli_decide: SignedDecide,
    signing_pki: SigningPki,
    database_url: str,
    api_url: str,
    tmp_path: Path,
) -> None:
    world = _hub(database_url)
    edrpou, rnokpp, name = factories.edrpou(), factories.rnokpp(), "Гнатюк Олена Петрівна"
    official = f"branch-{edrpou}@osvita.example.org"
    head = {"full_name": name, "rnokpp": rnokpp, "email": "hnatiuk@example.org", "position": "Завідувач"}
    params = {
        "name": "Філія «Берізка»",
        "settlement": "с. Берізки",
        "edrpou": edrpou,
        "official_email": official,
    }
    process_id, run_id = _start(cli, tmp_path, world, {**params, "head": head})
    wait_for_step(run_id, APPROVE, api_url)
    code, decided = cli_decide(_approval_task(database_url, process_id), world.admin, Decision.APPROVE)
    assert code == 0, decided

    # 1. The branch, its account PENDING and its head PENDING; the run waits for the head's sign-in.
    wait_for_step(run_id, FIRST_SIGNIN_STEP, api_url)
    (branch,) = _branches_of(database_url, world.school_id)
    assert branch.edrpou == edrpou and branch.official_email == official
    with unit_of_work(database_url) as s:
        account = s.scalars(select(Account).where(Account.org_unit_id == branch.id)).one()
        assert account.state == AccountState.PENDING
        head = s.scalars(select(Person).where(Person.org_unit_id == branch.id)).one()
        assert (head.role, head.state, head.full_name) == (PersonRole.DIRECTOR, PersonState.PENDING, name)
        head_id, account_id = head.id, account.id
        assert s.get_one(Process, process_id).parameters["head_id"] == head_id

    # 2. The base key reaches the branch's official address over SMTP.
    mailbox = tmp_path / "mailbox"
    _deliver(database_url, mailbox)
    received = [m for m in read_mailbox(mailbox) if m.to == official]
    assert len(received) == 1
    found = BASE_KEY.search(received[0].text)
    assert found is not None
    assert any(m.to == "hnatiuk@example.org" for m in read_mailbox(mailbox))  # the head's invitation

    # 3. The head signs in with КЕП carrying the branch's ЄДРПОУ and the base key: all ACTIVE, done.
    code, refused = _signin(
        cli, signing_pki, tmp_path, name=name, edrpou=edrpou, rnokpp=rnokpp, base_key=None
    )
    assert code == 1 and refused["reason"] == "base_key_required", refused
    code, signed_in = _signin(
        cli, signing_pki, tmp_path, name=name, edrpou=edrpou, rnokpp=rnokpp, base_key=found.group(0)
    )
    assert code == 0 and signed_in["person_id"] == head_id and signed_in["activated"] is True, signed_in
    view = wait_for_process(database_url, process_id)
    assert view.state == "completed", view.outcome
    with unit_of_work(database_url) as s:
        assert s.get_one(Account, account_id).state == AccountState.ACTIVE
        assert s.get_one(Person, head_id).state == PersonState.ACTIVE
        director_email = s.get_one(Person, world.director).email
    assert _outcome_mail(database_url, process_id).to_address == director_email


def test_a_rejected_branch_creates_nothing(
    cli: CliCall, cli_decide: SignedDecide, database_url: str, api_url: str, tmp_path: Path
) -> None:
    world = _hub(database_url)
    edrpou = factories.edrpou()
    head = {
        "full_name": "Дубовий Іван",
        "rnokpp": factories.rnokpp(),
        "email": "d@example.org",
        "position": "—",
    }
    params = {"name": "Філія «Дубок»", "settlement": "с. Дубове", "edrpou": edrpou}
    process_id, run_id = _start(
        cli, tmp_path, world, {**params, "official_email": f"b-{edrpou}@example.org", "head": head}
    )
    wait_for_step(run_id, APPROVE, api_url)
    code, decided = cli_decide(
        _approval_task(database_url, process_id), world.admin, Decision.REJECT, "Філія не передбачена мережею"
    )
    assert code == 0, decided
    view = wait_for_process(database_url, process_id)
    assert view.state == "rejected", view.outcome
    assert _branches_of(database_url, world.school_id) == []
    with unit_of_work(database_url) as s:
        assert s.scalars(select(OrgUnit).where(OrgUnit.edrpou == edrpou)).first() is None
        assert (
            s.scalars(
                select(EmailMessage).where(EmailMessage.to_address == f"b-{edrpou}@example.org")
            ).first()
            is None
        )
    outcome = _outcome_mail(database_url, process_id)
    assert outcome.variables["outcome"] == "відхилено"
    assert outcome.variables["comment"] == "Філія не передбачена мережею"
