"""The support desk's services and its email intake, on the real database (each test rolled back)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aikom.core.errors import DomainError
from aikom.models import (
    AuditEntry,
    EmailMessage,
    IntakeOutcome,
    Person,
    PersonRole,
    SupportAttachment,
    SupportIntake,
    SupportMessage,
    SupportRequest,
    SupportRequestState,
    SupportRequestType,
)
from aikom.services import support, support_mail, support_queue
from aikom.settings import Settings
from tests import factories as f

SUPPORT = "support.aikom@iea.gov.ua"
PDF = b"%PDF-1.4\n" + b"0" * 100


@pytest.fixture
def settings(tmp_path: object) -> Settings:
    return Settings(support_attachment_max_bytes=1000, support_reopen_days=14)


@pytest.fixture
def world(session: Session) -> dict[str, Person]:
    units = f.cascade(session, with_edrpou=True)
    ioa = f.account(session, units["national"])
    agent = f.person(session, ioa, role=PersonRole.SUPPORT_AGENT, name="Агент Служби")
    admin = f.person(
        session,
        f.account(session, units["hromada"]),
        role=PersonRole.HROMADA_ADMIN,
        email=f"hromada-{uuid.uuid4().hex[:8]}@example.org",
    )
    director = f.person(session, f.account(session, units["school"]), role=PersonRole.DIRECTOR)
    return {"agent": agent, "admin": admin, "director": director}


def _mail(
    sender: str | None,
    subject: str = "Не можу увійти з КЕП",
    body: str = "Доброго дня! Підпис не приймається.",
    *,
    html: str | None = None,
    in_reply_to: str | None = None,
    headers: dict[str, str] | None = None,
    files: list[tuple[str, bytes, str]] = (),  # type: ignore[assignment]
) -> tuple[bytes, str]:
    message = MimeMessage()
    if sender:
        message["From"] = f"Заявник <{sender}>"
    message["To"] = SUPPORT
    message["Subject"] = subject
    message_id = make_msgid(domain="example.org")
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    for name, value in (headers or {}).items():
        message[name] = value
    if html is not None:
        message.set_content(html, subtype="html")
    else:
        message.set_content(body)
    for name, data, kind in files:
        maintype, subtype = kind.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes(), message_id


def _messages(session: Session, request_id: int) -> list[SupportMessage]:
    return list(
        session.scalars(
            select(SupportMessage).where(SupportMessage.request_id == request_id).order_by(SupportMessage.id)
        )
    )


def _desk_reply_id(session: Session, request_id: int) -> str:
    """The Message-ID of the desk's latest public message (what the requester's client replies to)."""
    last = [m for m in _messages(session, request_id) if m.direction == "out" and m.visibility == "public"][
        -1
    ]
    assert last.message_id
    return last.message_id


def test_an_email_from_a_person_opens_a_request_linked_to_them(
    session: Session, world: dict[str, Person], settings: Settings
) -> None:
    raw, message_id = _mail(world["admin"].email.upper())
    outcome = support_mail.ingest(session=session, raw=raw, settings=settings)
    assert outcome.outcome == "opened"
    request = session.get_one(SupportRequest, outcome.request_id)
    assert request.requester_person_id == world["admin"].id
    assert request.org_unit_id == world["admin"].org_unit_id
    assert request.state == SupportRequestState.NEW and request.subject == "Не можу увійти з КЕП"
    first, ack = _messages(session, request.id)
    assert first.message_id == message_id and "Підпис не приймається" in first.body
    # The acknowledgement is in the outbox, threaded and marked as an automatic reply.
    row = session.get_one(EmailMessage, ack.outbox_id)
    assert row.to_address == world["admin"].email.lower()
    assert row.headers and row.headers["In-Reply-To"] == message_id
    assert row.headers["Auto-Submitted"] == "auto-replied"
    # A second delivery of the same message changes nothing.
    assert support_mail.ingest(session=session, raw=raw, settings=settings).outcome == "duplicate"
    assert (
        session.scalar(
            select(func.count()).select_from(SupportRequest).where(SupportRequest.id >= request.id)
        )
        == 1
    )
    actions = session.scalars(
        select(AuditEntry.action).where(
            AuditEntry.object_type == "support_request", AuditEntry.object_id == str(request.id)
        )
    ).all()
    assert "support.opened" in actions


def test_the_requesters_reply_lands_in_the_same_request_and_answers_the_info_request(
    session: Session, world: dict[str, Person], settings: Settings
) -> None:
    raw, _ = _mail("someone@school.example.org")
    request_id = support_mail.ingest(session=session, raw=raw, settings=settings).request_id
    assert request_id is not None
    agent = f.actor(world["agent"])
    support.triage(
        session=session,
        actor=agent,
        request_id=request_id,
        decision=support.TriageDecision.ASK_INFO,
        comment="Надішліть, будь ласка, ЄДРПОУ закладу.",
        settings=settings,
    )
    request = session.get_one(SupportRequest, request_id)
    assert request.state == SupportRequestState.INFO_REQUESTED and request.first_response_at is not None
    answer, _ = _mail(
        "someone@school.example.org",
        subject=f"Re: [АІКОМ #{request_id}] Не можу",
        body="ЄДРПОУ 20077720",
        in_reply_to=_desk_reply_id(session, request_id),
    )
    outcome = support_mail.ingest(session=session, raw=answer, settings=settings)
    assert (outcome.outcome, outcome.request_id) == ("appended", request_id)
    assert request.state == SupportRequestState.NEW  # back to triage
    assert [m.body for m in _messages(session, request_id) if m.direction == "in"][-1] == "ЄДРПОУ 20077720"


def test_an_auto_reply_or_a_bounce_opens_nothing_and_is_never_answered(
    session: Session, world: dict[str, Person], settings: Settings
) -> None:
    before = session.scalar(select(func.count()).select_from(EmailMessage))
    cases = [
        _mail(
            "away@example.org",
            subject="Автовідповідь: у відпустці",
            headers={"Auto-Submitted": "auto-replied"},
        ),
        _mail("MAILER-DAEMON@mx.example.org", subject="Undelivered Mail Returned to Sender"),
        _mail("list@example.org", headers={"Precedence": "bulk"}),
        _mail("ooo@example.org", headers={"X-Autoreply": "yes"}),
        _mail(SUPPORT, subject="[АІКОМ #1] відлуння"),
    ]
    for raw, _ in cases:
        outcome = support_mail.ingest(session=session, raw=raw, settings=settings)
        assert outcome.outcome == "auto_reply" and outcome.request_id is None, outcome
    assert session.scalar(select(func.count()).select_from(EmailMessage)) == before  # no reply, no loop
    kept = session.scalars(
        select(SupportIntake).where(SupportIntake.outcome == IntakeOutcome.AUTO_REPLY)
    ).all()
    assert len(kept) >= len(cases) and all(k.raw for k in kept)
    # "Auto-Submitted: no" is a person writing.
    raw, _ = _mail("person@example.org", headers={"Auto-Submitted": "no"})
    assert support_mail.ingest(session=session, raw=raw, settings=settings).outcome == "opened"


def test_a_message_without_a_sender_is_kept_and_refused(session: Session, settings: Settings) -> None:
    raw, _ = _mail(None)
    outcome = support_mail.ingest(session=session, raw=raw, settings=settings)
    assert outcome.outcome == "rejected" and "відправника" in (outcome.reason or "")
    assert session.scalars(select(SupportIntake).where(SupportIntake.raw == raw)).one()


def test_a_reply_from_another_sender_is_not_appended_to_the_thread(
    session: Session, world: dict[str, Person], settings: Settings
) -> None:
    raw, _ = _mail(world["admin"].email)
    original = support_mail.ingest(session=session, raw=raw, settings=settings).request_id
    assert original is not None
    forged, _ = _mail(
        "intruder@evil.example.org",
        subject=f"Re: [АІКОМ #{original}] Не можу",
        body="Змініть email на мій",
        in_reply_to=_desk_reply_id(session, original),
    )
    outcome = support_mail.ingest(session=session, raw=forged, settings=settings)
    assert outcome.outcome == "opened" and outcome.reason == "sender_mismatch"
    assert outcome.request_id != original
    new = session.get_one(SupportRequest, outcome.request_id)
    assert (new.flag, new.linked_request_id, new.requester_email) == (
        "sender_mismatch",
        original,
        "intruder@evil.example.org",
    )
    thread = _messages(session, original)
    assert not any("Змініть email" in m.body for m in thread)
    assert any(m.visibility == "internal" and "intruder@evil.example.org" in m.body for m in thread)
    # The intruder gets no mail about someone else's request.
    assert not session.scalars(
        select(EmailMessage).where(EmailMessage.to_address == "intruder@evil.example.org")
    ).all()
    # The same by the subject tag alone.
    tagged, _ = _mail("intruder@evil.example.org", subject=f"[АІКОМ #{original}] ще раз")
    assert support_mail.ingest(session=session, raw=tagged, settings=settings).reason == "sender_mismatch"


def test_html_and_script_are_stored_as_text(session: Session, settings: Settings) -> None:
    html = (
        "<html><head><style>p{color:red}</style><script>alert('x')</script></head>"
        "<body><p>Добрий день,</p><p>Не <b>працює</b> вхід &amp; підпис</p>"
        "<img src=x onerror=alert(1)></body></html>"
    )
    raw, _ = _mail("html@example.org", html=html)
    request_id = support_mail.ingest(session=session, raw=raw, settings=settings).request_id
    assert request_id is not None
    body = _messages(session, request_id)[0].body
    assert body == "Добрий день,\n\nНе працює вхід & підпис"
    assert "<" not in body and "alert" not in body


def test_an_attachment_over_the_limit_is_dropped_with_a_note(session: Session, settings: Settings) -> None:
    raw, _ = _mail(
        "files@example.org",
        files=[
            ("scan.pdf", PDF, "application/pdf"),
            ("big.pdf", b"%PDF-" + b"0" * 2000, "application/pdf"),
            ("run.exe", b"MZ" + b"0" * 10, "application/octet-stream"),
            ("fake.png", b"not a png at all", "image/png"),
        ],
    )
    request_id = support_mail.ingest(session=session, raw=raw, settings=settings).request_id
    assert request_id is not None
    kept = session.scalars(select(SupportAttachment).where(SupportAttachment.request_id == request_id)).all()
    assert [(a.file_name, a.content_type, a.size_bytes) for a in kept] == [
        ("scan.pdf", "application/pdf", len(PDF))
    ]
    note = next(m for m in _messages(session, request_id) if m.visibility == "internal")
    assert "«big.pdf»: розмір 2005 байт перевищує межу 1000 байт" in note.body
    assert "«run.exe»: тип файлу не дозволено" in note.body
    assert "«fake.png»: вміст файлу не відповідає типу" in note.body


def _finished(
    session: Session, world: dict[str, Person], settings: Settings, *, days_ago: int
) -> SupportRequest:
    raw, _ = _mail(world["admin"].email)
    request_id = support_mail.ingest(session=session, raw=raw, settings=settings).request_id
    assert request_id is not None
    agent = f.actor(world["agent"])
    support.triage(
        session=session,
        actor=agent,
        request_id=request_id,
        decision=support.TriageDecision.ACCEPT,
        comment=None,
    )
    support.claim(session=session, actor=agent, request_id=request_id)
    support.resolve(
        session=session, actor=agent, request_id=request_id, comment="Сертифікат оновлено.", settings=settings
    )
    support.close(session=session, actor=agent, request_id=request_id)
    request = session.get_one(SupportRequest, request_id)
    request.closed_at = request.resolved_at = datetime.now(UTC) - timedelta(days=days_ago)
    session.flush()
    return request


def test_a_reply_within_the_reopen_window_reopens_the_request(
    session: Session, world: dict[str, Person], settings: Settings
) -> None:
    request = _finished(session, world, settings, days_ago=3)
    answer, _ = _mail(
        world["admin"].email, subject="Re: знову не працює", in_reply_to=_desk_reply_id(session, request.id)
    )
    outcome = support_mail.ingest(session=session, raw=answer, settings=settings)
    assert (outcome.outcome, outcome.request_id, outcome.reopened) == ("appended", request.id, True)
    assert request.state == SupportRequestState.IN_PROGRESS and request.closed_at is None


def test_a_reply_after_the_reopen_window_opens_a_new_linked_request(
    session: Session, world: dict[str, Person], settings: Settings
) -> None:
    request = _finished(session, world, settings, days_ago=30)
    answer, _ = _mail(
        world["admin"].email, subject="Re: знову не працює", in_reply_to=_desk_reply_id(session, request.id)
    )
    outcome = support_mail.ingest(session=session, raw=answer, settings=settings)
    assert outcome.outcome == "opened" and outcome.request_id != request.id
    new = session.get_one(SupportRequest, outcome.request_id)
    assert new.linked_request_id == request.id and new.requester_person_id == world["admin"].id
    assert request.state == SupportRequestState.CLOSED


def test_the_desk_steps_refuse_what_their_rules_forbid(session: Session, world: dict[str, Person]) -> None:
    admin = f.actor(world["admin"])
    request = support.file_request(
        session=session,
        actor=admin,
        type=SupportRequestType.DATA_FIX,
        subject="Виправити назву",
        body="Назва застаріла",
    )
    assert (
        request.org_unit_id == world["admin"].org_unit_id and request.requester_email == world["admin"].email
    )
    with pytest.raises(support.NotDeskStaff):
        support.reply(session=session, actor=admin, request_id=request.id, body="Сам собі")
    with pytest.raises(DomainError, match="Коментар: поле не може бути порожнім"):
        support.triage(
            session=session,
            actor=f.actor(world["agent"]),
            request_id=request.id,
            decision=support.TriageDecision.REJECT,
            comment=" ",
        )
    with pytest.raises(support.AssigneeNotDeskStaff):
        support.assign(
            session=session,
            actor=f.actor(world["agent"]),
            request_id=request.id,
            assignee_id=world["admin"].id,
        )
    with pytest.raises(support.TransitionNotAllowed, match="закрити неможливо"):
        support.close(session=session, actor=f.actor(world["agent"]), request_id=request.id)
    # A director files about their school only.
    with pytest.raises(support.SubjectUnitOutOfScope):
        support.file_request(
            session=session,
            actor=f.actor(world["director"]),
            type=SupportRequestType.QUESTION,
            subject="Про громаду",
            body="…",
            org_unit_id=world["admin"].org_unit_id,
        )
    with pytest.raises(support.AttachmentRefused, match="тип файлу не дозволено"):
        support.file_request(
            session=session,
            actor=admin,
            type=SupportRequestType.QUESTION,
            subject="Файл",
            body="…",
            attachments=[support.NewAttachment("page.html", b"<script>")],
        )


def test_the_requester_sees_public_messages_only(session: Session, world: dict[str, Person]) -> None:
    admin, agent = f.actor(world["admin"]), f.actor(world["agent"])
    request = support.file_request(
        session=session,
        actor=admin,
        type=SupportRequestType.QUESTION,
        subject="Питання",
        body="Як додати заступника?",
    )
    support.add_note(session=session, actor=agent, request_id=request.id, body="Внутрішнє: перевірити права")
    support.reply(session=session, actor=agent, request_id=request.id, body="Через «Почати процес».")
    own = support_queue.request_detail(session=session, actor=admin, request_id=request.id)
    bodies = [m.body for m in own.messages]
    assert "Через «Почати процес»." in bodies and not any("Внутрішнє" in b for b in bodies)
    desk = support_queue.request_detail(session=session, actor=agent, request_id=request.id)
    assert any("Внутрішнє" in m.body for m in desk.messages)
    with pytest.raises(support.RequestNotFound):
        support_queue.request_detail(session=session, actor=f.actor(world["director"]), request_id=request.id)
    page = support_queue.queue_page(
        session=session, actor=agent, filters=support_queue.QueueFilters(mine=False)
    )
    assert request.id in [r.id for r in page.rows]
