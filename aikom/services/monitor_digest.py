"""The weekly monitor digest: every active manager is emailed last week's figures of their scope, once.

The reconciler calls `enqueue_due_digests` on every pass. It costs nothing before Monday 08:00 Kyiv
(a clock check), and afterwards one query — the active managers who have no digest for the week in the
outbox yet, looked up by the outbox's unique idempotency key — so it does real work once a week, and
again only for a manager added (or whose digest failed) later in the week. The week reported is the
previous Monday–Sunday in Kyiv; the key names that week: `monitor-digest-2026-W47-12` is person 12's
digest about ISO week 47 of 2026 (sent during week 48).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import String, cast, exists, literal, select
from sqlalchemy.orm import Session

from aikom.core.calendar import KYIV
from aikom.core.timefmt import format_date, format_kyiv
from aikom.mail.templates import DigestBreach, MonitorDigest
from aikom.models import EmailMessage, Person, PersonRole, PersonState, ProcessState
from aikom.services.approvals import process_link
from aikom.services.monitor import Monitor, MonitorQuery, WaitingStep, monitor
from aikom.services.outbox import enqueue
from aikom.settings import get_settings

log = logging.getLogger(__name__)

TEMPLATE = "monitor_digest"
SEND_FROM = time(8, 0)  # Kyiv time on Monday; any later moment of the week will do too
WORST_LISTED = 5
OTHER_FINAL = (ProcessState.FAILED, ProcessState.CANCELLED)


@dataclass(frozen=True)
class DigestWeek:
    """The Monday–Sunday (Kyiv) a digest reports on, and its ISO number."""

    start: date
    end: date
    iso_year: int
    iso_week: int

    @property
    def label(self) -> str:
        """«2026-W47», as the idempotency key and the CLI name it."""
        return f"{self.iso_year}-W{self.iso_week:02d}"

    def key(self, person_id: int) -> str:
        """The outbox idempotency key of one manager's digest about this week."""
        return f"{self.key_prefix}{person_id}"

    @property
    def key_prefix(self) -> str:
        return f"monitor-digest-{self.label}-"


def reported_week(now: datetime) -> DigestWeek:
    """The week before the one `now` falls in (Kyiv calendar)."""
    today = now.astimezone(KYIV).date()
    start = today - timedelta(days=today.weekday() + 7)
    iso = start.isocalendar()
    return DigestWeek(start=start, end=start + timedelta(days=6), iso_year=iso.year, iso_week=iso.week)


def digest_due(now: datetime) -> bool:
    """Is it Monday 08:00 Kyiv or later in the week (when last week's digest may go out)?"""
    local = now.astimezone(KYIV)
    return local.weekday() > 0 or local.time() >= SEND_FROM


def managers_owing(session: Session, week: DigestWeek) -> list[Person]:
    """Active managers without a digest about `week` in the outbox (one query, the key's unique index)."""
    key = literal(week.key_prefix, String) + cast(Person.id, String)
    sent = exists().where(EmailMessage.idempotency_key == key)
    return list(
        session.scalars(
            select(Person)
            .where(Person.role == PersonRole.MANAGER, Person.state == PersonState.ACTIVE, ~sent)
            .order_by(Person.id)
        )
    )


def monitor_link() -> str:
    """The address of the monitor page in the dashboard."""
    return f"{get_settings().public_url.rstrip('/')}/monitor"


def _hours_uk(hours: float) -> str:
    """«26,5 год» or, from two days on, «3 дн. 4 год»."""
    if hours >= 48:
        days, rest = divmod(round(hours), 24)
        return f"{days} дн. {rest} год" if rest else f"{days} дн."
    return f"{hours:.1f}".replace(".", ",").removesuffix(",0") + " год"


def _breach(step: WaitingStep) -> DigestBreach:
    return DigestBreach(
        process_id=step.process_id,
        process_title=step.process_title,
        step_title=step.step_title,
        who_may_decide=step.who_may_decide,
        area=step.area,
        due=format_kyiv(step.due_at),
        overdue=_hours_uk(step.overdue_hours) if step.overdue_hours else None,
        escalation_level=step.escalation_level,
        link=process_link(step.process_id),
    )


def worst_breaches(figures: Monitor, limit: int = WORST_LISTED) -> list[WaitingStep]:
    """The most overdue steps, then escalated ones among the oldest waiting.

    The reconciler escalates an overdue step within a minute, with the step's time again, so a step
    that broke its deadline is usually escalated rather than overdue by the time anyone looks."""
    listed = list(figures.breaches.worst[:limit])
    seen = {step.task_id for step in listed}
    escalated = [s for s in figures.oldest if s.escalation_level > 0 and s.task_id not in seen]
    escalated.sort(key=lambda s: (-s.escalation_level, s.since, s.task_id))
    return (listed + escalated)[:limit]


def digest_variables(person: Person, figures: Monitor, week: DigestWeek) -> MonitorDigest:
    """The email's variables from the monitor's figures of the reported week."""
    finished: dict[str, int] = {}
    for row in figures.counts:
        if not row.open:
            finished[row.state] = finished.get(row.state, 0) + row.count
    return MonitorDigest(
        recipient_name=person.full_name,
        scope_name=figures.scope.unit_name,
        process_title=figures.scope.process_title,
        week_label=f"{format_date(week.start)} – {format_date(week.end)}",
        iso_week=week.label,
        started=sum(point.started for point in figures.trends),
        completed=finished.get(ProcessState.COMPLETED.value, 0),
        rejected=finished.get(ProcessState.REJECTED.value, 0),
        expired=finished.get(ProcessState.EXPIRED.value, 0),
        other_finished=sum(finished.get(state.value, 0) for state in OTHER_FINAL),
        backlog=figures.trends[-1].backlog if figures.trends else 0,
        overdue=figures.breaches.overdue,
        escalated=figures.breaches.escalated,
        as_of=format_kyiv(figures.as_of or figures.generated_at),
        breaches=[_breach(step) for step in worst_breaches(figures)],
        link=monitor_link(),
    )


def enqueue_digest(*, session: Session, person: Person, week: DigestWeek, now: datetime) -> None:
    """Compute one manager's figures of `week` (their own scope) and put the email in the outbox."""
    query = MonitorQuery(start=week.start, end=week.end, granularity="week")
    figures = monitor(session, person, query, now=now)
    enqueue(
        session=session,
        template=TEMPLATE,
        to_address=person.email,
        variables=digest_variables(person, figures, week),
        idempotency_key=week.key(person.id),
    )


def brief(error: BaseException) -> str:
    """An error in one short line (an SQL error would otherwise carry its statement and parameters)."""
    first = str(error).strip().splitlines()[0] if str(error).strip() else ""
    return f"{type(error).__name__}: {first[:300]}"


def enqueue_due_digests(*, session: Session, now: datetime | None = None, force: bool = False) -> list[int]:
    """Enqueue last week's digest for each active manager who has none yet; the persons' ids.

    Before Monday 08:00 Kyiv nothing happens unless `force`. A manager whose figures fail is logged
    and skipped (their savepoint rolled back); the next pass tries them again.
    """
    now = now or datetime.now(UTC)
    if not force and not digest_due(now):
        return []
    week = reported_week(now)
    owing = managers_owing(session, week)
    if not owing:
        return []
    sent: list[int] = []
    for person in owing:
        try:
            with session.begin_nested():
                enqueue_digest(session=session, person=person, week=week, now=now)
        except Exception as error:  # one manager's failure must not stop the others, nor the pass
            log.warning("monitor digest %s for person %s skipped: %s", week.label, person.id,
                        brief(error))  # fmt: skip
            continue
        sent.append(person.id)
    if sent:
        log.info("monitor digest %s enqueued for %d manager(s)", week.label, len(sent))
    return sent
