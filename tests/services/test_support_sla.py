"""The desk queue's SLA and «Прострочені» filter, and canned replies, on the real database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.core.errors import DomainError
from aikom.core.support_sla import subtract_working_seconds
from aikom.models import EmailMessage, Person, SupportMessage, SupportRequest
from aikom.services import support_mail, support_queue, support_sla
from aikom.settings import Settings
from tests.services.test_support import _mail, settings, world

__all__ = ["settings", "world"]


def _agent(world: dict[str, Person]) -> Actor:
    agent = world["agent"]
    return Actor(person_id=agent.id, label=agent.full_name)


def _opened(session: Session, world: dict[str, Person], settings: Settings, subject: str) -> SupportRequest:
    raw, _ = _mail(world["admin"].email, subject=subject)
    outcome = support_mail.ingest(session=session, raw=raw, settings=settings)
    return session.get_one(SupportRequest, outcome.request_id)


def _overdue_ids(session: Session, world: dict[str, Person]) -> set[int]:
    page = support_queue.queue_page(
        session=session, actor=_agent(world), filters=support_queue.QueueFilters(overdue=True), limit=200
    )
    return {row.id for row in page.rows}


def test_the_overdue_filter_finds_requests_past_their_sla_in_working_hours(
    session: Session, world: dict[str, Person], settings: Settings
) -> None:
    now = datetime.now(UTC)
    calendar = settings.business_calendar()
    fresh = _opened(session, world, settings, "Щойно надійшло")
    # Five working hours ago: past the 4 working hours of a normal first response, within its 3 days.
    waiting = _opened(session, world, settings, "Чекає на відповідь")
    waiting.created_at = subtract_working_seconds(calendar, now, 5 * 3600)
    answered = _opened(session, world, settings, "Уже відповіли")
    answered.created_at = waiting.created_at
    # A month ago: the resolution is overdue too.
    old = _opened(session, world, settings, "Давнє")
    old.created_at = now - timedelta(days=30)
    session.flush()
    support_sla.reply_canned(
        session=session, actor=_agent(world), request_id=answered.id, code="received", settings=settings
    )

    overdue = _overdue_ids(session, world)
    assert waiting.id in overdue and old.id in overdue
    assert fresh.id not in overdue and answered.id not in overdue

    rows = {
        row.id: row for row in support_queue.queue_page(session=session, actor=_agent(world), limit=200).rows
    }
    assert rows[waiting.id].sla and rows[waiting.id].sla.first_response.status == "overdue"
    assert rows[waiting.id].sla.first_response.label.startswith("прострочено на 1 год")
    assert rows[waiting.id].sla.resolution.status == "running"
    # Answered five working hours after it came: late, but no longer waiting (so not in the filter).
    assert rows[answered.id].sla and rows[answered.id].sla.first_response.status == "late"
    assert rows[answered.id].sla.first_response.label.startswith("із запізненням на 1 год")
    assert rows[fresh.id].sla and rows[fresh.id].sla.first_response.label.startswith("залишилось")
    assert not rows[fresh.id].sla.breached and rows[old.id].sla and rows[old.id].sla.breached

    detail = support_queue.request_detail(session=session, actor=_agent(world), request_id=old.id)
    assert detail.request.sla and detail.request.sla.resolution.status == "overdue"


def test_a_canned_reply_is_sent_filled_in(
    session: Session, world: dict[str, Person], settings: Settings
) -> None:
    request = _opened(session, world, settings, "Новий ліцей")
    assert set(support_sla.canned_replies(settings)) >= {"received", "need_edrpou", "kep_advice", "resolved"}
    message = support_sla.reply_canned(
        session=session, actor=_agent(world), request_id=request.id, code="need_edrpou", settings=settings
    )
    assert f"звернення №{request.id}" in message.body and "код ЄДРПОУ" in message.body
    assert world["agent"].full_name in message.body and "{" not in message.body
    assert request.first_response_at is not None
    sent = session.get_one(EmailMessage, message.outbox_id)
    assert sent.template == "support_reply" and sent.to_address == world["admin"].email.lower()
    assert sent.variables["request_id"] == request.id and "код ЄДРПОУ" in sent.variables["body"]
    assert session.scalar(select(SupportMessage.body).where(SupportMessage.id == message.id)) == message.body

    with pytest.raises(DomainError) as refused:
        support_sla.reply_canned(
            session=session, actor=_agent(world), request_id=request.id, code="nope", settings=settings
        )
    assert "Шаблон відповіді: «nope» не налаштовано" in refused.value.message_uk


def test_configured_canned_replies_and_targets_replace_the_defaults(
    session: Session, world: dict[str, Person]
) -> None:
    custom = Settings(
        support_canned_replies={"thanks": "Дякуємо за звернення №{number}, {requester}!"},
        support_sla_first_response_hours={"normal": 1000},
    )
    request = _opened(session, world, custom, "Подяка")
    request.created_at = datetime.now(UTC) - timedelta(days=10)
    session.flush()
    assert support_sla.canned_replies(custom) == {"thanks": "thanks"}
    text = support_sla.render_canned(
        session=session, actor=_agent(world), request_id=request.id, code="thanks", settings=custom
    )
    assert text == f"Дякуємо за звернення №{request.id}, {world['admin'].full_name}!"
    view = support_sla.sla_view(request, settings=custom)
    assert view.first_response.status == "running" and view.resolution.status == "overdue"
