"""A new school end to end: the CLI, a real Prefect server and runner, КЕП-signed triage and verification,
the school card under the requesting hromada, the support request resolved and the requester's emails."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from aikom.db import unit_of_work
from aikom.models import (
    Account,
    ApprovalTask,
    Decision,
    EmailMessage,
    OrgLevel,
    OrgUnit,
    Person,
    PersonRole,
    SupportMessage,
    SupportRequest,
    SupportRequestState,
)
from aikom.processes.new_school import TRIAGE_STEP, VERIFY_STEP
from tests import factories as f
from tests.flows.conftest import CliCall, SignedDecide, wait_for_process, wait_for_step


@dataclass
class Desk:
    """A hromada with its admin (the requester), a support agent and an institute admin."""

    hromada: int
    oblast: int
    requester: int
    requester_email: str
    agent: int
    institute_admin: int


def _desk(database_url: str) -> Desk:
    with unit_of_work(database_url) as s:
        units = f.cascade(s, with_edrpou=True)
        units["national"].edrpou = f.edrpou()
        national = f.account(s, units["national"])

        def person(acc: Account, role: PersonRole) -> Person:
            return f.person(s, acc, role=role, rnokpp=f.rnokpp())

        requester = person(f.account(s, units["hromada"]), PersonRole.HROMADA_ADMIN)
        return Desk(
            hromada=units["hromada"].id,
            oblast=units["oblast"].id,
            requester=requester.id,
            requester_email=requester.email,
            agent=person(national, PersonRole.SUPPORT_AGENT).id,
            institute_admin=person(national, PersonRole.INSTITUTE_ADMIN).id,
        )


def _start(cli: CliCall, desk: Desk, edrpou: str) -> tuple[int, str]:
    code, started = cli(
        "process", "start", "new-school", "--as", str(desk.requester),
        "--set", f"edrpou={edrpou}", "--set", "name=Ліцей «Новий» Тестової сільської ради",
        "--set", "settlement=с. Тестове", "--set", "comment=Заклад відкрито з 1 вересня",
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


def _request(database_url: str, process_id: int) -> SupportRequest:
    with unit_of_work(database_url) as s:
        return s.scalars(select(SupportRequest).where(SupportRequest.process_id == process_id)).one()


def _mails_to(database_url: str, address: str) -> list[str]:
    """The outbox templates addressed to `address`."""
    with unit_of_work(database_url) as s:
        return list(s.scalars(select(EmailMessage.template).where(EmailMessage.to_address == address)))


def _replies(database_url: str, request_id: int) -> list[str]:
    with unit_of_work(database_url) as s:
        return list(
            s.scalars(
                select(SupportMessage.body)
                .where(SupportMessage.request_id == request_id, SupportMessage.author_person_id.is_not(None))
                .order_by(SupportMessage.id)
            )
        )


def test_a_new_school_from_request_to_card(
    cli: CliCall, cli_decide: SignedDecide, database_url: str, api_url: str
) -> None:
    desk = _desk(database_url)
    edrpou = f.edrpou()

    # 1. The hromada's admin files the school; a support request of type new_school opens with it.
    process_id, run_id = _start(cli, desk, edrpou)
    request = _request(database_url, process_id)
    assert (request.type.value, request.state, request.edrpou) == (
        "new_school",
        SupportRequestState.NEW,
        edrpou,
    )

    # 2. The support desk triages it (a signed decision); the request is accepted.
    wait_for_step(run_id, TRIAGE_STEP, api_url)
    triage = _task(database_url, process_id, TRIAGE_STEP)
    assert triage.allowed_roles == [PersonRole.SUPPORT_AGENT.value]
    assert ["Код ЄДРПОУ", edrpou] in triage.details["shown"]
    code, decided = cli_decide(triage.id, desk.agent, Decision.APPROVE, "Дані повні, передаємо на перевірку")
    assert code == 0, decided

    # 3. The institute admin sees the request beside the registry findings and approves it (signed).
    wait_for_step(run_id, VERIFY_STEP, api_url)
    assert _request(database_url, process_id).state == SupportRequestState.ACCEPTED
    verify = _task(database_url, process_id, VERIFY_STEP)
    shown = dict(map(tuple, verify.details["shown"]))
    assert shown["ЄДРПОУ: формат і контрольна цифра"] == "правильні"
    assert shown["ЄДРПОУ серед чинних одиниць АІКОМ"] == "немає (код вільний)"
    code, decided = cli_decide(verify.id, desk.institute_admin, Decision.APPROVE, "Код перевірено за ЄДР")
    assert code == 0, decided

    # 4. The card is under the hromada; the request is done with a public reply; the requester is emailed.
    view = wait_for_process(database_url, process_id)
    assert view.state == "completed", view.outcome
    with unit_of_work(database_url) as s:
        school = s.scalars(select(OrgUnit).where(OrgUnit.edrpou == edrpou)).one()
        assert (school.level, school.parent_id, school.managing_body_id, school.oblast_id) == (
            OrgLevel.SCHOOL,
            desk.hromada,
            desk.hromada,
            desk.oblast,
        )
        assert school.name == "Ліцей «Новий» Тестової сільської ради"
    request = _request(database_url, process_id)
    assert request.state == SupportRequestState.DONE
    assert "Картку закладу «Ліцей «Новий» Тестової сільської ради»" in _replies(database_url, request.id)[-1]
    templates = _mails_to(database_url, desk.requester_email)
    assert "process_outcome" in templates
    assert templates.count("support_reply") >= 3  # the acknowledgement, the triage comment, the resolution

    # 5. The same code again: refused, naming the school that now holds it.
    code, refused = cli(
        "process", "start", "new-school", "--as", str(desk.requester), "--set", f"edrpou={edrpou}",
        "--set", "name=Двійник", "--set", "settlement=с. Тестове",
    )  # fmt: skip
    assert code == 1
    assert "Ліцей «Новий» Тестової сільської ради" in refused["message"]


def test_the_desk_rejects_a_request_and_asks_to_refile(
    cli: CliCall, cli_decide: SignedDecide, database_url: str, api_url: str
) -> None:
    desk = _desk(database_url)
    edrpou = f.edrpou()
    process_id, run_id = _start(cli, desk, edrpou)

    wait_for_step(run_id, TRIAGE_STEP, api_url)
    triage = _task(database_url, process_id, TRIAGE_STEP)
    ask = "Додайте наказ про утворення закладу і подайте звернення повторно"
    code, decided = cli_decide(triage.id, desk.agent, Decision.REJECT, ask)
    assert code == 0, decided

    view = wait_for_process(database_url, process_id)
    assert view.state == "rejected"
    request = _request(database_url, process_id)
    assert request.state == SupportRequestState.REJECTED
    assert _replies(database_url, request.id)[-1] == ask
    assert "support_reply" in _mails_to(database_url, desk.requester_email)
    with unit_of_work(database_url) as s:
        assert s.scalars(select(OrgUnit).where(OrgUnit.edrpou == edrpou)).first() is None
