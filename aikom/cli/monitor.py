"""`aikom monitor`: the managers' monitor from the command line; `aikom monitor digest`: the weekly email."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import typer

from aikom.cli.lookup import parse_day
from aikom.cli.output import emit, fail
from aikom.core.errors import DomainError, ValidationFailed

if TYPE_CHECKING:
    from aikom.services.monitor import Monitor

app = typer.Typer(no_args_is_help=True)

JSON_OPTION = typer.Option(False, "--json", help="Звіт у JSON")
GRANULARITIES = ("day", "week")
AREAS_SHOWN = 10
STEPS_SHOWN = 5


def _day(value: str | None, *, field: str, label: str) -> date | None:
    return parse_day(value, field=field, label=label) if value else None


def _num(value: float | None) -> str:
    """A figure as Ukrainians write it: «2,5» (a dash for none yet)."""
    if value is None:
        return "—"
    return f"{value:.1f}".replace(".", ",").removesuffix(",0")


@app.callback(
    invoke_without_command=True,
    help="Моніторинг процесів у вашій зоні відповідальності: стани, черги кроків, прострочення, "
    "тривалість, динаміка, території й охоплення каскаду (`aikom monitor digest` — щотижневий лист)",
)
def show(
    ctx: typer.Context,
    actor: str | None = typer.Option(None, "--as", help="Від імені кого: номер картки особи або email"),
    unit: str | None = typer.Option(
        None, "--unit", help="Одиниця у вашій зоні: КАТОТТГ, ЄДРПОУ, код ЄДЕБО або номер (типово — ваша)"
    ),
    process_type: str | None = typer.Option(None, "--type", help="Тип процесу (`aikom process types`)"),
    start: str | None = typer.Option(
        None,
        "--from",
        help="Початок періоду: ДД.ММ.РРРР або РРРР-ММ-ДД (типово — стандартний період моніторингу до кінця)",
    ),
    end: str | None = typer.Option(
        None, "--to", help="Кінець періоду включно: ДД.ММ.РРРР або РРРР-ММ-ДД (типово — сьогодні)"
    ),
    by: str = typer.Option("day", "--by", help="Динаміка: day (за днями) або week (за тижнями)"),
    json_output: bool = JSON_OPTION,
) -> None:
    """Every figure of the monitor for one person's scope, as JSON or a short summary."""
    if ctx.invoked_subcommand is not None:
        return
    from aikom.db import unit_of_work
    from aikom.services import approvals
    from aikom.services.monitor import MonitorQuery, monitor
    from aikom.services.org import find_unit

    try:
        if actor is None:
            raise ValidationFailed(
                "as", "Вкажіть, від імені кого показати моніторинг: --as (номер картки або email)."
            )
        if by not in GRANULARITIES:
            raise ValidationFailed("by", f"Динаміка: «{by}» — можливо day (за днями) або week (за тижнями).")
        query = MonitorQuery(
            process_type=process_type,
            start=_day(start, field="from", label="Початок періоду"),
            end=_day(end, field="to", label="Кінець періоду"),
            granularity="week" if by == "week" else "day",
        )
        with unit_of_work() as session:
            viewer = approvals.find_person(session=session, ref=actor)
            if unit is not None:
                query.unit_id = find_unit(session=session, code=unit).id
            figures = monitor(session, viewer, query)
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    emit(figures.model_dump(mode="json"), json_output, summary(figures))


def summary(m: Monitor) -> str:
    """A short Ukrainian summary of the figures (the JSON holds all of them)."""
    from aikom.core.timefmt import format_date, format_kyiv

    s = m.scope
    what = f"процес «{s.process_title}»" if s.process_title else "усі процеси"
    lines = [
        f"Моніторинг: {s.unit_name} ({what}), період {format_date(s.start)} – {format_date(s.end)}; "
        f"станом на {format_kyiv(m.generated_at)}"
    ]
    open_by_state: dict[str, int] = {}
    done_by_state: dict[str, int] = {}
    for row in m.counts:
        target = open_by_state if row.open else done_by_state
        target[row.state_uk] = target.get(row.state_uk, 0) + row.count
    lines.append(f"Відкриті процеси: {sum(open_by_state.values())}{_breakdown(open_by_state)}")
    lines.append(f"Завершені за період: {sum(done_by_state.values())}{_breakdown(done_by_state)}")
    started = sum(point.started for point in m.trends)
    backlog = m.trends[-1].backlog if m.trends else 0
    lines.append(f"Розпочато за період: {started}; незавершених на кінець періоду: {backlog}")
    open_steps = sum(step.open for step in m.steps)
    lines.append(
        f"Кроки, що чекають рішення: {open_steps}, прострочено: {m.breaches.overdue}, "
        f"передано вище: {m.breaches.escalated}"
    )
    for step in m.steps[:STEPS_SHOWN]:
        lines.append(
            f"  {step.process_title} — «{step.step_title}»: {step.open} (прострочено {step.overdue})"
        )
    if m.breaches.worst:
        lines.append("Найбільш прострочені кроки:")
        for w in m.breaches.worst[:STEPS_SHOWN]:
            where = f", {w.area}" if w.area else ""
            late = (
                f"прострочено на {_num(w.overdue_hours)} год"
                if w.overdue_hours
                else f"строк {format_kyiv(w.due_at, zone=False)}"
            )
            raised = f", піднято на {w.escalation_level} рів. вгору" if w.escalation_level else ""
            lines.append(
                f"  процес №{w.process_id} {w.process_title} — «{w.step_title}»{where}: {late}{raised}; "
                f"ухвалює: {w.who_may_decide}"
            )
    whole = [d for d in m.durations if d.step is None]
    if whole:
        lines.append("Тривалість процесів (медіана / 90-й перцентиль, робочих днів):")
        for d in whole:
            lines.append(
                f"  {d.process_title}: {_num(d.p50_business_days)} / {_num(d.p90_business_days)} "
                f"(завершено: {d.count})"
            )
    if m.areas:
        lines.append(f"{s.area_label or 'Території'}:")
        worst_first = sorted(m.areas, key=lambda a: (-a.overdue, -a.open_steps, a.name))
        for a in worst_first[:AREAS_SHOWN]:
            lines.append(
                f"  {a.name}: охоплення {_num(a.coverage_pct)} %, відкритих процесів {a.open_processes}, "
                f"кроків {a.open_steps}, прострочено {a.overdue}"
            )
        if len(m.areas) > AREAS_SHOWN:
            lines.append(f"  … і ще {len(m.areas) - AREAS_SHOWN} (усі — у --json)")
    if m.coverage:
        lines.append(
            "Охоплення каскаду: "
            + "; ".join(
                f"{c.level_uk} — {c.active} з {c.units} ({_num(c.coverage_pct)} %)" for c in m.coverage
            )
        )
    return "\n".join(lines)


def _breakdown(counts: dict[str, int]) -> str:
    if not counts:
        return ""
    return " (" + ", ".join(f"{label} — {n}" for label, n in counts.items()) + ")"


@app.command(
    "digest",
    help="Щотижневий лист керівникам з показниками минулого тижня: хто ще не отримав; "
    "--send ставить листи в чергу одразу (узгоджувач робить це сам щопонеділка після 08:00)",
)
def digest(
    send: bool = typer.Option(False, "--send", help="Поставити листи в чергу зараз (повторно не надсилає)"),
    json_output: bool = JSON_OPTION,
) -> None:
    """Which managers still lack last week's digest; with --send, enqueue it for them now."""
    from aikom.db import unit_of_work
    from aikom.services.monitor_digest import digest_due, enqueue_due_digests, managers_owing, reported_week

    now = datetime.now(UTC)
    week = reported_week(now)
    with unit_of_work() as session:
        owing = [
            {"id": p.id, "full_name": p.full_name, "email": p.email} for p in managers_owing(session, week)
        ]
        enqueued = enqueue_due_digests(session=session, now=now, force=True) if send else []
    payload: dict[str, Any] = {
        "week": week.label,
        "start": week.start.isoformat(),
        "end": week.end.isoformat(),
        "due": digest_due(now),
        "owing": owing,
        "enqueued": enqueued,
    }
    label = f"Тиждень {week.label} ({week.start:%d.%m.%Y} – {week.end:%d.%m.%Y})"
    if send:
        failed = len(owing) - len(enqueued)
        human = f"{label}: листів поставлено в чергу — {len(enqueued)}"
        if failed:
            human += f"; не вдалося — {failed} (подробиці в журналі, наступний прохід спробує знову)"
    elif owing:
        human = f"{label}: ще не отримали — " + ", ".join(f"{p['full_name']} ({p['email']})" for p in owing)
    else:
        human = f"{label}: усі керівники вже отримали лист."
    emit(payload, json_output, human)
