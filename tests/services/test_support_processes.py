"""A support request that maps to a process starts it from the request, prefilled, on the requester's
behalf; the request shows that process's state; the desk files requests for a person (real database,
each test rolled back)."""

from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.models import (
    Account,
    AuditEntry,
    MessageVisibility,
    OrgUnit,
    Person,
    PersonRole,
    Process,
    ProcessState,
    SupportChannel,
    SupportMessage,
    SupportRequest,
    SupportRequestType,
)
from aikom.processes import ProcessNotStartable
from aikom.services import keys, support, support_processes, support_queue
from aikom.services.new_school import fields_from_text
from aikom.services.processes import show_process
from aikom.services.support_processes import (
    RequesterNotAPerson,
    RequesterNotSelectable,
    RequestHasLiveProcess,
    RequestStartsNoProcess,
)
from tests import factories as f

NAME = "Гімназія № 5 Вільхівської сільської ради"


@pytest.fixture
def world(session: Session) -> dict[str, Person]:
    units = f.cascade(session, with_edrpou=True)
    ioa = f.account(session, units["national"])
    return {
        "agent": f.person(session, ioa, role=PersonRole.SUPPORT_AGENT, name="Агент Служби"),
        "ioa": f.person(session, ioa, role=PersonRole.INSTITUTE_ADMIN, name="Адмін ІОА"),
        "admin": f.person(
            session,
            f.account(session, units["hromada"]),
            role=PersonRole.HROMADA_ADMIN,
            name="Коваль Олена Петрівна",
            email=f"koval-{uuid.uuid4().hex[:8]}@example.org",
        ),
        "director": f.person(session, f.account(session, units["school"]), role=PersonRole.DIRECTOR),
    }


def _code(session: Session) -> str:
    """A valid ЄДРПОУ no unit holds."""
    while True:
        code = f.edrpou()
        if session.scalars(select(OrgUnit.id).where(OrgUnit.edrpou == code)).first() is None:
            return code


def _new_school_request(session: Session, admin: Person, code: str) -> SupportRequest:
    return support.file_request(
        session=session,
        actor=f.actor(admin),
        type=SupportRequestType.NEW_SCHOOL,
        subject="Немає нашої гімназії в довіднику",
        body=(
            "Доброго дня! Не можемо знайти заклад.\n"
            f"Код ЄДРПОУ: {code}\n"
            f"Назва: {NAME}\n"
            "Населений пункт: с. Вільхівка\n"
            "Код в ЄДЕБО: 140001\n"
            "Коментар: Заклад утворено рішенням сесії від 01.09.2026"
        ),
    )


def test_the_requests_text_gives_the_new_school_fields() -> None:
    assert fields_from_text("Школа № 3, ЄДРПОУ 26338854") == {
        "edrpou": "26338854",
        "comment": "Школа № 3, ЄДРПОУ 26338854",
    }
    # One eight-digit number without a label is taken as the code; two are left to the desk.
    assert fields_from_text("Наш код 26338854, село: Травневе")["edrpou"] == "26338854"
    assert "edrpou" not in fields_from_text("26338854 чи 26372905?")
    assert fields_from_text("Населений пункт — м. Бердянськ")["settlement"] == "м. Бердянськ"


def test_the_desk_starts_the_process_from_the_request_prefilled_on_the_requesters_behalf(
    session: Session, world: dict[str, Person]
) -> None:
    agent, admin = world["agent"], world["admin"]
    code = _code(session)
    request = _new_school_request(session, admin, code)
    form = support_processes.start_form(session=session, actor=f.actor(agent), request_id=request.id)
    assert (form.process_type, form.requester_id, form.requester) == ("new-school", admin.id, admin.full_name)
    assert form.params == {
        "edrpou": code,
        "name": NAME,
        "settlement": "с. Вільхівка",
        "edebo_id": "140001",
        "comment": "Заклад утворено рішенням сесії від 01.09.2026",
        "support_request_id": request.id,
    }

    process = support_processes.start_from_request(
        session=session, actor=f.actor(agent), request_id=request.id, params={"settlement": "с. Вільхівка-2"}
    )
    # The requester is who the process is for; the desk member who pressed it, who started it.
    assert (process.type, process.requester_person_id, process.started_by_id) == (
        "new-school",
        admin.id,
        agent.id,
    )
    assert process.parameters["edrpou"] == code and process.parameters["name"] == NAME
    assert process.parameters["settlement"] == "с. Вільхівка-2"  # what the desk corrected wins
    assert process.parameters["requesting_unit_id"] == admin.org_unit_id  # the requester's unit
    assert process.parameters["support_request_id"] == request.id
    assert request.process_id == process.id
    started = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "support.process_started", AuditEntry.object_id == str(request.id)
        )
    ).one()
    assert started.actor_person_id == agent.id
    assert (started.details["on_behalf_of"], started.details["process_id"]) == (admin.id, process.id)
    note = session.scalars(
        select(SupportMessage).where(
            SupportMessage.request_id == request.id, SupportMessage.visibility == MessageVisibility.INTERNAL
        )
    ).one()
    assert f"Запущено процес №{process.id}" in note.body and f"від імені {admin.full_name}" in note.body
    # The process's own history says it was started from the request, for whom.
    history = show_process(session=session, process_id=process.id, viewer_id=admin.id).history
    assert f"процес запущено зі звернення до служби підтримки (від імені: {admin.full_name})" in [
        h.action_uk for h in history
    ]


def test_the_request_shows_its_process_state_to_the_desk_and_the_requester(
    session: Session, world: dict[str, Person]
) -> None:
    agent, admin = world["agent"], world["admin"]
    request = _new_school_request(session, admin, _code(session))
    before = support_queue.request_detail(session=session, actor=f.actor(agent), request_id=request.id)
    assert before.process is None
    assert before.process_to_start == "Новий заклад освіти (через службу підтримки)"
    process = support_processes.start_from_request(
        session=session, actor=f.actor(agent), request_id=request.id
    )
    process.state, process.current_step = ProcessState.WAITING, "triage"
    session.flush()

    desk = support_queue.request_detail(session=session, actor=f.actor(agent), request_id=request.id)
    assert desk.process is not None and desk.process_to_start is None  # no second start offered
    assert (desk.process.id, desk.process.state_uk, desk.process.current_step_uk) == (
        process.id,
        "очікує рішення",
        "Розгляд службою підтримки",
    )
    assert desk.process.live and desk.process.path == f"/process?id={process.id}"
    assert any(
        h.action_uk == f"запущено процес №{process.id} (від імені {admin.full_name})" for h in desk.history
    )
    mine = support_queue.request_detail(session=session, actor=f.actor(admin), request_id=request.id)
    assert mine.process is not None and mine.process.state_uk == "очікує рішення"
    assert mine.process_to_start is None and mine.history == []  # the requester neither starts nor audits


def test_no_second_start_while_one_is_live_and_a_new_one_after_it_ended(
    session: Session, world: dict[str, Person]
) -> None:
    agent, admin = world["agent"], world["admin"]
    request = _new_school_request(session, admin, _code(session))
    first = support_processes.start_from_request(session=session, actor=f.actor(agent), request_id=request.id)
    with pytest.raises(RequestHasLiveProcess, match=f"уже триває процес №{first.id}"):
        support_processes.start_from_request(
            session=session, actor=f.actor(world["ioa"]), request_id=request.id
        )
    assert session.scalars(select(Process).where(Process.requester_person_id == admin.id)).all() == [first]
    first.state = ProcessState.REJECTED  # e.g. rejected at triage: the requester answered, it is open again
    session.flush()
    second = support_processes.start_from_request(
        session=session, actor=f.actor(agent), request_id=request.id
    )
    assert second.id != first.id and request.process_id == second.id


def test_refusals_name_the_rule_in_ukrainian(session: Session, world: dict[str, Person]) -> None:
    agent, admin = world["agent"], world["admin"]
    request = _new_school_request(session, admin, _code(session))
    # Not the desk: the requester themself, a director.
    for key in ("admin", "director"):
        with pytest.raises(support.NotDeskStaff, match="лише служба підтримки"):
            support_processes.start_from_request(
                session=session, actor=f.actor(world[key]), request_id=request.id
            )
    assert request.process_id is None
    question = support.file_request(
        session=session, actor=f.actor(admin), type=SupportRequestType.QUESTION, subject="Питання", body="?"
    )
    with pytest.raises(RequestStartsNoProcess, match="тип «Питання» не запускає жодного процесу"):
        support_processes.start_from_request(session=session, actor=f.actor(agent), request_id=question.id)
    by_mail = support.open_request(
        session=session,
        actor=f.actor(agent),
        type=SupportRequestType.NEW_SCHOOL,
        subject="Нова школа",
        body="ЄДРПОУ 26338854",
        channel=SupportChannel.EMAIL,
        requester_email="someone@example.org",
    )
    with pytest.raises(RequesterNotAPerson, match=r"лише адреса someone@example\.org"):
        support_processes.start_from_request(session=session, actor=f.actor(agent), request_id=by_mail.id)
    # A director may not ask for a new school: the desk cannot start it for them either.
    from_director = support.file_request(
        session=session,
        actor=f.actor(world["director"]),
        type=SupportRequestType.NEW_SCHOOL,
        subject="Нова школа",
        body="ЄДРПОУ 26338854",
    )
    with pytest.raises(ProcessNotStartable, match="подає адміністратор органу управління освітою"):
        support_processes.start_form(session=session, actor=f.actor(agent), request_id=from_director.id)
    # A bad field is named by the parameters' validation and nothing is started.
    with pytest.raises(ValidationError):
        support_processes.start_from_request(
            session=session, actor=f.actor(agent), request_id=request.id, params={"name": ""}
        )
    support.triage(
        session=session,
        actor=f.actor(agent),
        request_id=request.id,
        decision=support.TriageDecision.REJECT,
        comment="Не наш випадок",
    )
    with pytest.raises(support.TransitionNotAllowed, match="запустити процес неможливо"):
        support_processes.start_from_request(session=session, actor=f.actor(agent), request_id=request.id)


def test_the_desk_files_a_request_on_a_persons_behalf(session: Session, world: dict[str, Person]) -> None:
    agent, admin = world["agent"], world["admin"]
    assert (admin.id, f"{admin.full_name} — {admin.email}") in support_processes.requester_choices(
        session=session, query="коваль олена"
    )
    assert support_processes.requester_choices(session=session, query="Агент Служби") == []  # desk staff
    who = support_processes.filing_actor(session=session, actor=f.actor(agent), requester_id=admin.id)
    request = support.file_request(
        session=session,
        actor=who,
        type=SupportRequestType.NEW_SCHOOL,
        subject="Новий заклад освіти: Ліцей № 9",
        body="Телефонувала заявниця: ЄДРПОУ 26338854",
    )
    assert request.requester_person_id == admin.id and request.org_unit_id == admin.org_unit_id
    opened = session.scalars(
        select(AuditEntry).where(
            AuditEntry.action == "support.opened", AuditEntry.object_id == str(request.id)
        )
    ).one()
    assert opened.actor_person_id == agent.id and opened.details["on_behalf_of"] == admin.id
    detail = support_queue.request_detail(session=session, actor=f.actor(agent), request_id=request.id)
    assert detail.filed_by == agent.full_name
    assert detail.history[0].action_uk == f"звернення подано (від імені {admin.full_name})"
    # The requester sees it among their own requests; the desk acts on it: the prefill reads the subject.
    assert request.id in [r.id for r in support_queue.my_requests(session=session, actor=f.actor(admin))]
    form = support_processes.start_form(session=session, actor=f.actor(agent), request_id=request.id)
    assert (form.params["name"], form.params["edrpou"]) == ("Ліцей № 9", "26338854")

    with pytest.raises(support.NotDeskStaff):
        support_processes.filing_actor(
            session=session, actor=f.actor(admin), requester_id=world["director"].id
        )
    with pytest.raises(RequesterNotSelectable, match="Заявник: «Адмін ІОА»"):
        support_processes.filing_actor(session=session, actor=f.actor(agent), requester_id=world["ioa"].id)


def test_a_key_regeneration_request_starts_the_key_process_with_its_reason_prefilled(
    session: Session, world: dict[str, Person]
) -> None:
    agent, director = world["agent"], world["director"]
    account = session.get(Account, director.account_id)
    assert account is not None
    keys.issue_account_keys(session=session, account=account, actor_label="test")
    request = support.file_request(
        session=session,
        actor=f.actor(director),
        type=SupportRequestType.KEY_REGENERATION,
        subject="Ключ API потрапив до сторонньої ОІС",
        body="Просимо деактивувати ключ API і згенерувати новий.",
    )
    form = support_processes.start_form(session=session, actor=f.actor(agent), request_id=request.id)
    assert form.process_type == "key-regeneration"
    assert form.params == {
        "reason": f"Звернення до служби підтримки №{request.id}: Ключ API потрапив до сторонньої ОІС"
    }

    process = support_processes.start_from_request(
        session=session, actor=f.actor(agent), request_id=request.id, params={}
    )
    session.refresh(request)
    assert (process.type, process.requester_person_id, request.process_id) == (
        "key-regeneration",
        director.id,
        process.id,
    )
