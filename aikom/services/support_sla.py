"""The support desk's SLA as the queue shows it, the overdue filter's SQL condition, and canned replies.

Speed: a page's SLA is computed in Python for its (at most 50) rows; the overdue filter never runs the
calendar in SQL — `overdue_condition` turns each priority's targets into wall-clock cutoffs once
(`aikom.core.support_sla.overdue_cutoffs`) and filters with `created_at <= cutoff` per priority, which the
`(state, created_at)` index serves.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import ColumnElement, and_, false, or_
from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.core.errors import ValidationFailed
from aikom.core.support_canned import CANNED_LABELS_UK
from aikom.core.support_sla import SlaTargets, clock, format_working, overdue_cutoffs
from aikom.core.timefmt import format_kyiv
from aikom.models import Person, SupportMessage, SupportPriority, SupportRequest
from aikom.services import support
from aikom.settings import Settings, get_settings


def targets(settings: Settings) -> SlaTargets:
    """The SLA targets the configuration sets."""
    return SlaTargets(settings.support_sla_first_response_hours, settings.support_sla_resolution_hours)


class SlaClock(BaseModel):
    """One clock as people read it."""

    status: str  # running | overdue | met | late | none
    target_hours: float
    left_seconds: int | None  # working seconds left (negative: overdue by); None when stopped or none
    deadline: datetime | None
    label: str


class SlaView(BaseModel):
    """A request's two clocks."""

    first_response: SlaClock
    resolution: SlaClock
    breached: bool  # either clock overdue or late


def _clock_view(
    settings: Settings,
    *,
    created_at: datetime,
    target_seconds: float,
    stopped_at: datetime | None,
    abandoned: bool,
    now: datetime,
) -> SlaClock:
    hours = round(target_seconds / 3600, 2)
    if abandoned and stopped_at is None:
        return SlaClock(status="none", target_hours=hours, left_seconds=None, deadline=None, label="—")
    c = clock(
        settings.business_calendar(),
        created_at=created_at,
        target_seconds=target_seconds,
        stopped_at=stopped_at,
        now=now,
    )
    if c.stopped:
        status = "late" if c.breached else "met"
        label = (
            f"із запізненням на {format_working(c.left_seconds)} роб. часу"
            if c.breached
            else f"вчасно ({format_kyiv(stopped_at, zone=False)})"
        )
        return SlaClock(
            status=status, target_hours=hours, left_seconds=None, deadline=c.deadline, label=label
        )
    if c.breached:
        label = f"прострочено на {format_working(c.left_seconds)} роб. часу"
        status = "overdue"
    else:
        deadline = format_kyiv(c.deadline, zone=False)
        label = f"залишилось {format_working(c.left_seconds)} роб. часу (до {deadline})"
        status = "running"
    return SlaClock(
        status=status, target_hours=hours, left_seconds=int(c.left_seconds), deadline=c.deadline, label=label
    )


def sla_view(
    request: SupportRequest, *, now: datetime | None = None, settings: Settings | None = None
) -> SlaView:
    """The request's first-response and resolution clocks at `now`."""
    settings = settings or get_settings()
    now = now or datetime.now(UTC)
    goals = targets(settings)
    priority = request.priority.value
    finished = request.state in support.FINISHED_STATES
    ended = request.resolved_at or request.closed_at or (request.updated_at if finished else None)
    first = _clock_view(
        settings,
        created_at=request.created_at,
        target_seconds=goals.first_response(priority),
        stopped_at=request.first_response_at,
        abandoned=finished,
        now=now,
    )
    resolution = _clock_view(
        settings,
        created_at=request.created_at,
        target_seconds=goals.resolution(priority),
        stopped_at=ended if finished else None,
        abandoned=False,
        now=now,
    )
    return SlaView(
        first_response=first,
        resolution=resolution,
        breached=first.status in ("overdue", "late") or resolution.status in ("overdue", "late"),
    )


def overdue_condition(
    *, now: datetime | None = None, settings: Settings | None = None
) -> ColumnElement[bool]:
    """SQL: an open request whose first response or resolution clock has reached its target by `now`."""
    settings = settings or get_settings()
    now = now or datetime.now(UTC)
    priorities = [p.value for p in SupportPriority]
    cutoffs = overdue_cutoffs(settings.business_calendar(), targets(settings), priorities, now)
    r = SupportRequest
    by_priority = [
        and_(
            r.priority == SupportPriority(p),
            or_(
                and_(r.first_response_at.is_(None), r.created_at <= first_cut),
                and_(r.resolved_at.is_(None), r.created_at <= resolution_cut),
            ),
        )
        for p, (first_cut, resolution_cut) in cutoffs.items()
    ]
    return and_(r.state.in_(support.OPEN_STATES), or_(false(), *by_priority))


# --- canned replies --------------------------------------------------------------------------------------


class UnknownCannedReply(ValidationFailed):
    """A canned reply code that is not configured."""

    def __init__(self, code: str, codes: list[str]) -> None:
        super().__init__(
            "canned",
            f"Шаблон відповіді: «{code}» не налаштовано — допустимо: {', '.join(codes) or 'немає'}.",
        )


def canned_replies(settings: Settings | None = None) -> dict[str, str]:
    """Code → label of the configured canned replies."""
    settings = settings or get_settings()
    return {code: CANNED_LABELS_UK.get(code, code) for code in settings.support_canned_replies}


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def render_canned(
    *, session: Session, actor: Actor, request_id: int, code: str, settings: Settings | None = None
) -> str:
    """The canned reply `code` filled in for the request (for the desk to send or edit)."""
    settings = settings or get_settings()
    person = support.desk_person(session=session, actor=actor)
    template = settings.support_canned_replies.get(code)
    if template is None:
        raise UnknownCannedReply(code, list(settings.support_canned_replies))
    request = support.get_request(session, request_id)
    requester = session.get(Person, request.requester_person_id) if request.requester_person_id else None
    values = _Blank(
        number=request.id,
        subject=request.subject,
        requester=requester.full_name if requester else (request.requester_email or ""),
        agent=person.full_name,
    )
    return template.format_map(values)


def reply_canned(
    *, session: Session, actor: Actor, request_id: int, code: str, settings: Settings | None = None
) -> SupportMessage:
    """Send the canned reply `code` as a public reply."""
    body = render_canned(session=session, actor=actor, request_id=request_id, code=code, settings=settings)
    return support.reply(session=session, actor=actor, request_id=request_id, body=body, settings=settings)
