"""The support desk's batch intake (`support_mail.ingest_many`), on the real database (each test rolled back):
a mixed batch ends exactly as the same messages taken one by one would, and it is written with a handful of
statements whatever its size."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage as MimeMessage
from email.utils import make_msgid
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from aikom.models import (
    AuditEntry,
    EmailMessage,
    Person,
    PersonRole,
    SupportAttachment,
    SupportIntake,
    SupportMessage,
    SupportRequest,
    SupportRequestState,
)
from aikom.services import audit, support, support_mail
from aikom.settings import Settings
from tests import factories as f

SUPPORT = "support.aikom@iea.gov.ua"
PDF = b"%PDF-1.4\n" + b"0" * 100


@pytest.fixture
def settings() -> Settings:
    return Settings(support_attachment_max_bytes=1000, support_reopen_days=14, support_address=SUPPORT)


@pytest.fixture
def world(session: Session) -> dict[str, Person]:
    units = f.cascade(session, with_edrpou=True)
    agent = f.person(session, f.account(session, units["national"]), role=PersonRole.SUPPORT_AGENT)
    admin = f.person(
        session,
        f.account(session, units["hromada"]),
        role=PersonRole.HROMADA_ADMIN,
        email=f"hromada-{uuid.uuid4().hex[:8]}@example.org",
    )
    return {"agent": agent, "admin": admin}


def _mail(
    sender: str | None,
    subject: str = "Не можу увійти з КЕП",
    body: str = "Доброго дня! Підпис не приймається.",
    *,
    message_id: str | None = None,
    in_reply_to: str | None = None,
    headers: dict[str, str] | None = None,
    files: list[tuple[str, bytes, str]] | None = None,
) -> tuple[bytes, str]:
    message = MimeMessage()
    if sender:
        message["From"] = f"Заявник <{sender}>"
    message["To"] = SUPPORT
    message["Subject"] = subject
    message_id = message_id or make_msgid(domain="example.org")
    message["Message-ID"] = message_id
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    for name, value in (headers or {}).items():
        message[name] = value
    message.set_content(body)
    for name, data, kind in files or []:
        maintype, subtype = kind.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return message.as_bytes(), message_id


def _ack_id(session: Session, request_id: int) -> str:
    ack = session.scalars(
        select(SupportMessage.message_id)
        .where(SupportMessage.request_id == request_id, SupportMessage.direction == "out")
        .order_by(SupportMessage.id.desc())
    ).first()
    assert ack
    return ack


def _finished(
    session: Session, world: dict[str, Person], settings: Settings, *, days_ago: int
) -> SupportRequest:
    raw, _ = _mail(world["admin"].email, subject=f"Закрите {days_ago}")
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
        session=session, actor=agent, request_id=request_id, comment="Зроблено.", settings=settings
    )
    support.close(session=session, actor=agent, request_id=request_id)
    request = session.get_one(SupportRequest, request_id)
    request.closed_at = request.resolved_at = datetime.now(UTC) - timedelta(days=days_ago)
    session.flush()
    return request


def _mixed_batch(session: Session, world: dict[str, Person], settings: Settings) -> list[bytes]:
    """Earlier requests (one waiting for the requester, one closed lately, one closed long ago, one taken
    before) and a batch that exercises every rule."""
    admin = world["admin"].email
    waiting_raw, _ = _mail("waiting@school.example.org", subject="Потрібен ЄДРПОУ")
    waiting = support_mail.ingest(session=session, raw=waiting_raw, settings=settings).request_id
    assert waiting is not None
    support.triage(
        session=session,
        actor=f.actor(world["agent"]),
        request_id=waiting,
        decision=support.TriageDecision.ASK_INFO,
        comment="Надішліть ЄДРПОУ.",
        settings=settings,
    )
    recent = _finished(session, world, settings, days_ago=3)
    old = _finished(session, world, settings, days_ago=30)
    taken_before, _ = _mail("before@school.example.org", subject="Уже прийнятий")
    support_mail.ingest(session=session, raw=taken_before, settings=settings)

    first, first_id = _mail(admin.upper(), subject="Новий: не працює вхід", body="Перший лист.")
    files, _ = _mail(
        "files@school.example.org",
        subject="Зі вкладеннями",
        files=[("scan.pdf", PDF, "application/pdf"), ("big.pdf", b"%PDF-" + b"0" * 2000, "application/pdf")],
    )
    return [
        first,  # a new request, linked to the person
        _mail(admin, subject="Re: Новий", body="Доповнення до першого.", in_reply_to=first_id)[
            0
        ],  # same batch
        _mail(
            "waiting@school.example.org",
            subject=f"Re: [АІКОМ #{waiting}] Потрібен ЄДРПОУ",
            body="ЄДРПОУ 20077720",
            in_reply_to=_ack_id(session, waiting),
        )[0],  # answers the request for information
        _mail("away@example.org", subject="Автовідповідь", headers={"Auto-Submitted": "auto-replied"})[0],
        _mail(
            "intruder@evil.example.org",
            subject=f"Re: [АІКОМ #{waiting}] Потрібен ЄДРПОУ",
            body="Змініть email на мій",
            in_reply_to=_ack_id(session, waiting),
        )[0],  # a forged sender
        first,  # the same Message-ID again in the batch
        taken_before,  # taken before the batch
        _mail(None, subject="Без відправника")[0],
        files,  # one file kept, one dropped with a note
        _mail(admin, subject="Re: знову", body="Знову не працює.", in_reply_to=_ack_id(session, recent.id))[
            0
        ],
        _mail(admin, subject="Re: давнє", body="Давнє знову.", in_reply_to=_ack_id(session, old.id))[0],
        _mail(admin, subject=f"[АІКОМ #{recent.id}] ще одне", body="За номером у темі.")[0],
        _mail("other@school.example.org", subject="Re: Новий", body="Чужа відповідь.", in_reply_to=first_id)[
            0
        ],  # another sender claims a request of this very batch
        _mail(SUPPORT, subject="[АІКОМ #1] відлуння")[0],
    ]


def _snapshot(session: Session, since: dict[str, int]) -> dict[str, Any]:
    """What the intake wrote after `since` (the last ids before it), ids replaced by their order."""
    session.flush()
    session.expire_all()
    requests = session.scalars(select(SupportRequest).order_by(SupportRequest.id)).all()
    messages = session.scalars(
        select(SupportMessage).where(SupportMessage.id > since["message"]).order_by(SupportMessage.id)
    ).all()
    new_requests = [r.id for r in requests if r.id > since["request"]]
    names = {r: f"R{n}" for n, r in enumerate(new_requests)} | {
        r.id: f"old{n}" for n, r in enumerate(r for r in requests if r.id <= since["request"])
    }
    message_names = {m.id: f"M{n}" for n, m in enumerate(messages)}
    intakes = session.scalars(
        select(SupportIntake).where(SupportIntake.id > since["intake"]).order_by(SupportIntake.id)
    ).all()
    intake_names = {i.id: f"I{n}" for n, i in enumerate(intakes)}

    def ids(text: object) -> object:
        if not isinstance(text, str):
            return text
        text = re.sub(
            r"aikom-support-(\d+)-(\d+)@",
            lambda m: f"aikom-support-{names[int(m[1])]}-{message_names.get(int(m[2]), m[2])}@",
            text,
        )
        text = re.sub(r"(№|номером |#)(\d+)", lambda m: m[1] + names.get(int(m[2]), m[2]), text)
        text = re.sub(r"support-message:(\d+)", lambda m: "support-message:" + message_names[int(m[1])], text)
        return text

    def details(d: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in d.items():
            if key == "message_id":
                out[key] = message_names.get(value, value)
            elif key.endswith("request_id") and value is not None:
                out[key] = names[value]
            else:
                out[key] = ids(value)
        return out

    touched = {m.request_id for m in messages}
    audits = session.scalars(
        select(AuditEntry).where(AuditEntry.id > since["audit"]).order_by(AuditEntry.id)
    ).all()
    outbox = session.scalars(
        select(EmailMessage).where(EmailMessage.id > since["outbox"]).order_by(EmailMessage.id)
    ).all()
    files = session.scalars(
        select(SupportAttachment).where(SupportAttachment.id > since["file"]).order_by(SupportAttachment.id)
    ).all()
    return {
        "requests": [
            (
                names[r.id],
                r.type.value,
                r.state.value,
                r.subject,
                r.body,
                r.channel.value,
                r.requester_person_id,
                r.requester_email,
                r.org_unit_id,
                names.get(r.linked_request_id) if r.linked_request_id else None,
                r.flag,
                r.resolved_at is None,
                r.closed_at is None,
            )
            for r in requests
            if r.id in touched or r.id > since["request"]
        ],
        "messages": [
            (
                message_names[m.id],
                names[m.request_id],
                m.direction.value,
                m.visibility.value,
                ids(m.body),
                m.author_person_id,
                m.author_email,
                ids(m.message_id),
                ids(m.in_reply_to),
                m.outbox_id is not None,
            )
            for m in messages
        ],
        "files": [
            (names[a.request_id], message_names[a.message_id], a.file_name, a.size_bytes) for a in files
        ],
        "outbox": [
            (
                o.to_address,
                o.template,
                ids(o.idempotency_key),
                {k: ids(v) for k, v in (o.headers or {}).items()},
                details(o.variables),
            )
            for o in outbox
        ],
        "intake": [
            (
                intake_names[i.id],
                i.message_key,
                i.outcome.value,
                names.get(i.request_id),
                i.reason,
                i.raw is None,
            )
            for i in intakes
        ],
        "audit": [
            (
                a.action,
                a.object_type,
                names.get(int(a.object_id)) if a.object_type == "support_request" and a.object_id else None,
                intake_names.get(int(a.object_id))
                if a.object_type == "support_intake" and a.object_id
                else None,
                a.actor_person_id,
                a.actor_label,
                details(a.details),
            )
            for a in audits
        ],
    }


def _last_ids(session: Session) -> dict[str, int]:
    session.flush()
    return {
        name: session.scalar(select(func.coalesce(func.max(model.id), 0))) or 0
        for name, model in (
            ("request", SupportRequest),
            ("message", SupportMessage),
            ("intake", SupportIntake),
            ("audit", AuditEntry),
            ("outbox", EmailMessage),
            ("file", SupportAttachment),
        )
    }


def test_a_mixed_batch_ends_as_the_messages_taken_one_by_one(
    session: Session, world: dict[str, Person], settings: Settings
) -> None:
    raws = _mixed_batch(session, world, settings)

    one_by_one = session.begin_nested()
    since = _last_ids(session)
    singles = [
        support_mail.ingest(session=session, raw=raw, source="sink", settings=settings) for raw in raws
    ]
    expected = _snapshot(session, since)
    one_by_one.rollback()

    since = _last_ids(session)
    outcomes = support_mail.ingest_many(session=session, raws=raws, source="sink", settings=settings)
    got = _snapshot(session, since)

    def shape(o: support_mail.IngestOutcome) -> tuple[str, str | None, bool, bool]:
        return (o.outcome, o.reason, o.reopened, o.request_id is None)

    assert [shape(o) for o in outcomes] == [shape(o) for o in singles]
    for part in ("requests", "messages", "files", "outbox", "intake", "audit"):
        assert got[part] == expected[part], part
    assert audit.verify_chain(session=session).ok

    # What each message came to, as a person reading the desk would see it.
    assert [o.outcome for o in outcomes] == [
        "opened",
        "appended",
        "appended",
        "auto_reply",
        "opened",
        "duplicate",
        "duplicate",
        "rejected",
        "opened",
        "appended",
        "opened",
        "appended",
        "opened",
        "auto_reply",
    ]
    first, reply, answer, _, forged, _, _, _, files, reopened, linked, tagged, claimed, _ = outcomes
    assert reply.request_id == first.request_id  # a reply to a message of the same batch
    new = session.get_one(SupportRequest, first.request_id)
    assert new.requester_person_id == world["admin"].id and new.org_unit_id == world["admin"].org_unit_id
    assert session.get_one(SupportRequest, answer.request_id).state == SupportRequestState.NEW
    assert forged.reason == "sender_mismatch" and claimed.reason == "sender_mismatch"
    assert session.get_one(SupportRequest, claimed.request_id).linked_request_id == first.request_id
    assert reopened.reopened and reopened.request_id == tagged.request_id
    assert session.get_one(SupportRequest, reopened.request_id).state == SupportRequestState.IN_PROGRESS
    assert session.get_one(SupportRequest, linked.request_id).linked_request_id is not None
    kept = session.scalars(
        select(SupportAttachment).where(SupportAttachment.request_id == files.request_id)
    ).all()
    assert [a.file_name for a in kept] == ["scan.pdf"]
    # The numbers follow the order the messages came in.
    opened = [o.request_id for o in outcomes if o.outcome == "opened"]
    assert opened == sorted(opened)
    # Nobody but the requesters is written to: no mail to the intruder, the away address or the desk.
    to = set(session.scalars(select(EmailMessage.to_address).where(EmailMessage.id > since["outbox"])))
    assert to == {world["admin"].email.lower(), "files@school.example.org"}


def test_a_batch_is_written_with_a_handful_of_statements(session: Session, settings: Settings) -> None:
    def statements(raws: list[bytes]) -> int:
        count = 0

        def counted(*_: object) -> None:
            nonlocal count
            count += 1

        connection = session.connection()
        event.listen(connection, "before_cursor_execute", counted)
        try:
            outcomes = support_mail.ingest_many(session=session, raws=raws, settings=settings)
        finally:
            event.remove(connection, "before_cursor_execute", counted)
        assert {o.outcome for o in outcomes} == {"opened", "appended"}
        return count

    def batch(n: int) -> list[bytes]:
        raws: list[bytes] = []
        for i in range(n):
            sender = f"school{i}-{uuid.uuid4().hex[:6]}@school.example.org"
            raw, message_id = _mail(
                sender, subject=f"Звернення {i}", files=[("scan.pdf", PDF, "application/pdf")]
            )
            raws += [raw, _mail(sender, subject="Re: доповнення", in_reply_to=message_id)[0]]
        return raws

    small, large = statements(batch(1)), statements(batch(100))
    assert large == small <= 20, (small, large)
