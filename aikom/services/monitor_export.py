"""The monitor («Моніторинг») as tables, charts and files: every table of the page as CSV and XLSX, and a
one-page PDF summary for the Ministry.

One `Table` per section of the page (Ukrainian header row, values as values: numbers stay numbers,
moments are Kyiv time), built once here and used by the page, the CSV and the XLSX alike, so that a
file holds exactly the rows the page shows. The Altair charts are built here too, for the same reason:
the page draws them, the PDF embeds them.

PDF: fpdf2 with the DejaVu Sans TTF (Debian package fonts-dejavu-core, which `scripts/bootstrap.sh`
installs) for Cyrillic; the two charts (trends, step durations) are the page's own Altair charts,
rendered to PNG by vl-convert-python (the renderer Altair's own `save` uses), with no browser and
no network. Should rendering fail, the PDF says so in place of the chart and is still produced.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import altair as alt
import pandas as pd

from aikom.core.calendar import KYIV
from aikom.core.timefmt import ZONE_LABEL, format_date, format_kyiv
from aikom.models import ProcessState
from aikom.services.monitor import Monitor, WaitingStep

log = logging.getLogger(__name__)

Cell = str | int | float | date | datetime | None

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT = FONT_DIR / "DejaVuSans.ttf"
FONT_BOLD = FONT_DIR / "DejaVuSans-Bold.ttf"
FONT_FAMILY = "DejaVu Sans"
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
KYIV_HEADER = f"({ZONE_LABEL})"
WHOLE_PROCESS = "Увесь процес"
ALL_PROCESSES = "Усі процеси"
GRANULARITY_UK = {"day": "День", "week": "Тиждень (з понеділка)"}


@dataclass(frozen=True)
class Table:
    """One table of the page: what it is called, its Ukrainian header row and its rows of values."""

    key: str  # the file name's stem: counts, steps, …
    title: str
    columns: list[str]
    rows: list[list[Cell]]

    def frame(self) -> pd.DataFrame:
        """The table as the page shows it."""
        return pd.DataFrame(self.rows, columns=self.columns)

    def text_rows(self) -> list[list[str]]:
        """The rows as text, the way the CSV writes them (dates DD.MM.YYYY, Kyiv time)."""
        return [[_text(value) for value in row] for row in self.rows]


def _text(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%d.%m.%Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d.%m.%Y")
    return str(value)


def _kyiv_naive(moment: datetime | None) -> datetime | None:
    """A moment as Kyiv wall time without a zone (spreadsheets know no zones; the header says it)."""
    if moment is None:
        return None
    return moment.astimezone(KYIV).replace(tzinfo=None, microsecond=0)


# --- tables ----------------------------------------------------------------------------------------


def counts_table(m: Monitor) -> Table:
    """Processes by type × state: open ones now, finished ones in the period."""
    order = [state.value for state in ProcessState]
    present = sorted({(c.state, c.state_uk, c.open) for c in m.counts}, key=lambda s: order.index(s[0]))
    columns = ["Процес"] + [f"{uk} ({'зараз' if is_open else 'за період'})" for _, uk, is_open in present]
    columns += ["Відкрито зараз, усього", "Завершено за період, усього"]
    by_type: dict[str, dict[str, int]] = {}
    titles: dict[str, str] = {}
    for c in m.counts:
        by_type.setdefault(c.process_type, {})[c.state] = c.count
        titles[c.process_type] = c.process_title
    open_states = {c.state for c in m.counts if c.open}
    rows: list[list[Cell]] = []
    for ptype in sorted(by_type, key=lambda t: titles[t]):
        cells = by_type[ptype]
        rows.append(
            [
                titles[ptype],
                *[cells.get(state, 0) for state, _, _ in present],
                sum(v for s, v in cells.items() if s in open_states),
                sum(v for s, v in cells.items() if s not in open_states),
            ]
        )
    return Table("counts", "Процеси за станами", columns, rows)


def steps_table(m: Monitor) -> Table:
    """Open human steps by step."""
    return Table(
        "steps",
        "Відкриті кроки",
        ["Процес", "Крок", "Відкрито", "Прострочено", "Ескальовано"],
        [[s.process_title, s.step_title, s.open, s.overdue, s.escalated] for s in m.steps],
    )


def _waiting_table(key: str, title: str, steps: Sequence[WaitingStep]) -> Table:
    columns = [
        "№ процесу",
        "Процес",
        "Крок",
        "Хто може ухвалити",
        "У роботі",
        "Територія",
        f"Очікує з {KYIV_HEADER}",
        f"Строк {KYIV_HEADER}",
        "Прострочено, год",
        "Рівень ескалації",
    ]
    rows: list[list[Cell]] = [
        [
            w.process_id,
            w.process_title,
            w.step_title,
            w.who_may_decide,
            w.claimed_by,
            w.area,
            _kyiv_naive(w.since),
            _kyiv_naive(w.due_at),
            w.overdue_hours,
            w.escalation_level,
        ]
        for w in steps
    ]
    return Table(key, title, columns, rows)


def breaches_table(m: Monitor) -> Table:
    """The most overdue open steps."""
    return _waiting_table("breaches", "Найбільш прострочені кроки", m.breaches.worst)


def oldest_table(m: Monitor) -> Table:
    """The open steps waiting longest."""
    return _waiting_table("oldest", "Найдовше очікують рішення", m.oldest)


def durations_table(m: Monitor) -> Table:
    """p50/p90 per type (whole process) and per step, in hours and business days."""
    return Table(
        "durations",
        "Тривалість",
        [
            "Процес",
            "Крок",
            "Кількість",
            "Медіана, год",
            "90-й процентиль, год",
            "Медіана, робочих днів",
            "90-й процентиль, робочих днів",
            "Усього, год",
        ],
        [
            [
                d.process_title,
                d.step_title or WHOLE_PROCESS,
                d.count,
                d.p50_hours,
                d.p90_hours,
                d.p50_business_days,
                d.p90_business_days,
                d.total_hours,
            ]
            for d in m.durations
        ],
    )


TREND_SERIES = {
    "started": "Розпочато",
    "completed": "Завершено",
    "rejected": "Відхилено",
    "expired": "Строк минув",
    "backlog": "Незавершені на кінець",
}


def trends_table(m: Monitor) -> Table:
    """Started and finished per day or week, and the backlog at each end."""
    first = "Тиждень з" if m.scope.granularity == "week" else "День"
    return Table(
        "trends",
        "Динаміка",
        [first, *TREND_SERIES.values()],
        [[p.bucket, p.started, p.completed, p.rejected, p.expired, p.backlog] for p in m.trends],
    )


def area_column(m: Monitor) -> str:
    """What the per-area table lists (its first column)."""
    return m.scope.area_label or "Одиниця"


def areas_table(m: Monitor) -> Table:
    """One row per unit one level down."""
    return Table(
        "areas",
        "За територіями",
        [
            area_column(m),
            "Одиниць",
            "Активних облікових записів",
            "Охоплення, %",
            "Закладів освіти",
            "Закладів з активним записом",
            "Відкритих процесів",
            "Відкритих кроків",
            "Прострочено",
            "Ескальовано",
        ],
        [
            [
                a.name,
                a.units,
                a.accounts_active,
                a.coverage_pct,
                a.schools,
                a.schools_active,
                a.open_processes,
                a.open_steps,
                a.overdue,
                a.escalated,
            ]
            for a in m.areas
        ],
    )


def coverage_table(m: Monitor) -> Table:
    """Accounts of the cascade by level."""
    return Table(
        "coverage",
        "Охоплення",
        [
            "Рівень",
            "Одиниць",
            "Активні",
            "Очікують першого входу",
            "Призупинені",
            "Деактивовані",
            "Без облікового запису",
            "Охоплення, %",
        ],
        [
            [
                c.level_uk,
                c.units,
                c.active,
                c.pending,
                c.suspended,
                c.deactivated,
                c.without_account,
                c.coverage_pct,
            ]
            for c in m.coverage
        ],
    )


def all_tables(m: Monitor) -> dict[str, Table]:
    """Every table of the page, by key."""
    tables = (
        counts_table(m),
        steps_table(m),
        breaches_table(m),
        oldest_table(m),
        durations_table(m),
        trends_table(m),
        areas_table(m),
        coverage_table(m),
    )
    return {t.key: t for t in tables}


def key_figures(m: Monitor) -> list[tuple[str, str]]:
    """The headline numbers: label and value as shown."""
    open_processes = sum(c.count for c in m.counts if c.open)
    open_steps = sum(s.open for s in m.steps)
    started = sum(p.started for p in m.trends)
    finished = sum(c.count for c in m.counts if not c.open)
    units = sum(c.units for c in m.coverage)
    active = sum(c.active for c in m.coverage)
    coverage = f"{100.0 * active / units:.1f}".replace(".", ",") + " %" if units else "—"
    return [
        ("Відкриті процеси", str(open_processes)),
        ("Відкриті кроки", str(open_steps)),
        ("Прострочені кроки", str(m.breaches.overdue)),
        ("Ескальовані кроки", str(m.breaches.escalated)),
        ("Розпочато за період", str(started)),
        ("Завершено за період", str(finished)),
        ("Охоплення облікових записів", coverage),
    ]


def scope_line(m: Monitor) -> str:
    """«Київська область · 01.09.2026–30.11.2026 · Усі процеси»."""
    s = m.scope
    return f"{s.unit_name} · {format_date(s.start)}–{format_date(s.end)} · {s.process_title or ALL_PROCESSES}"


def file_stem(m: Monitor, key: str) -> str:
    """A file name without extension: monitor-areas-2026-09-01-2026-11-30."""
    return f"monitor-{key}-{m.scope.start.isoformat()}-{m.scope.end.isoformat()}"


# --- files -----------------------------------------------------------------------------------------


def to_csv(table: Table) -> bytes:
    """The table as CSV: UTF-8 with a byte-order mark (so spreadsheet programs read Cyrillic), comma
    separated, the header row first; decimals with a point, dates DD.MM.YYYY, Kyiv time."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(table.columns)
    writer.writerows(table.text_rows())
    return out.getvalue().encode("utf-8-sig")


def _sheet_title(title: str) -> str:
    for bad in "[]:*?/\\":
        title = title.replace(bad, " ")
    return title[:31]


def to_xlsx(table: Table, m: Monitor | None = None) -> bytes:
    """The table as an XLSX workbook: a bold, frozen, filterable header row, numbers as numbers, moments
    as Excel dates in Kyiv time; a second sheet says what the figures cover."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = _sheet_title(table.title)
    sheet.append(table.columns)
    for row in table.rows:
        sheet.append(row)
    header_font = Font(bold=True)
    header_fill = PatternFill("solid", fgColor="E8EEF7")
    for cell in sheet[1]:
        cell.font = header_font
        cell.fill = header_fill
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for column, header in enumerate(table.columns, start=1):
        values = [row[column - 1] for row in table.rows]
        for offset, value in enumerate(values, start=2):
            cell = sheet.cell(row=offset, column=column)
            if isinstance(value, datetime):
                cell.number_format = "DD.MM.YYYY HH:MM"
            elif isinstance(value, date):
                cell.number_format = "DD.MM.YYYY"
            elif isinstance(value, float):
                cell.number_format = "0.0#"
        widest = max([len(header) // 2 + 2, *(len(_text(v)) + 2 for v in values)])
        sheet.column_dimensions[get_column_letter(column)].width = min(max(widest, 10), 60)
    sheet.freeze_panes = "A2"
    if table.rows:
        sheet.auto_filter.ref = sheet.dimensions
    if m is not None:
        about = book.create_sheet("Відомості")
        for label, value in _about(m):
            about.append([label, value])
        about.column_dimensions["A"].width = 24
        about.column_dimensions["B"].width = 60
        for cell in about["A"]:
            cell.font = header_font
    book.properties.title = table.title
    book.properties.creator = "АІКОМ Back Office"
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _about(m: Monitor) -> list[tuple[str, str]]:
    s = m.scope
    return [
        ("Територія", s.unit_name),
        ("Період", f"{format_date(s.start)}–{format_date(s.end)}"),
        ("Процес", s.process_title or ALL_PROCESSES),
        ("Дані на", format_kyiv(m.generated_at)),
        ("Джерело", "АІКОМ Back Office, «Моніторинг»"),
    ]


# --- charts ----------------------------------------------------------------------------------------


def _count_axis(largest: float) -> alt.Axis:
    """An axis of counts: whole numbers only (no 0.5 tick for a handful of processes)."""
    return alt.Axis(format="d", tickCount=int(max(1, min(largest, 8))))


TREND_COLORS = ["#4c78a8", "#54a24b", "#e45756", "#f58518", "#7f7f7f"]


def trends_chart(m: Monitor) -> alt.Chart:
    """A line per series: started, completed, rejected, expired per day or week, and the backlog."""
    rows = [
        {"Період": p.bucket.isoformat(), "Показник": label, "Кількість": getattr(p, field)}
        for p in m.trends
        for field, label in TREND_SERIES.items()
    ]
    period = "Тиждень (з понеділка)" if m.scope.granularity == "week" else "День"
    # Buckets are Kyiv calendar dates: read and shown as UTC dates, so no browser zone shifts them.
    x = alt.X("utcyearmonthdate(Період):T", title=period, axis=alt.Axis(format="%d.%m", labelAngle=0))
    return (
        alt.Chart(pd.DataFrame(rows, columns=["Період", "Показник", "Кількість"]))
        .mark_line(point=True)
        .encode(
            x=x,
            y=alt.Y(
                "Кількість:Q",
                title="Кількість процесів",
                axis=_count_axis(max((r["Кількість"] for r in rows), default=0)),
            ),
            color=alt.Color(
                "Показник:N",
                title="Показник",
                scale=alt.Scale(domain=list(TREND_SERIES.values()), range=TREND_COLORS),
                legend=alt.Legend(orient="bottom"),
            ),
            tooltip=[
                alt.Tooltip("utcyearmonthdate(Період):T", title=period, format="%d.%m.%Y"),
                alt.Tooltip("Показник:N", title="Показник"),
                alt.Tooltip("Кількість:Q", title="Кількість"),
            ],
        )
    )


def step_durations_chart(m: Monitor, *, limit: int = 12) -> alt.Chart:
    """Where time goes: hours spent in each step (decided in the period), the largest first, coloured
    by process."""
    steps = sorted((d for d in m.durations if d.step is not None), key=lambda d: -d.total_hours)[:limit]
    columns = [
        "Крок",
        "Процес",
        "Усього, год",
        "Медіана, год",
        "90-й процентиль, год",
        "Медіана, робочих днів",
        "Кроків",
    ]
    rows = [
        [d.step_title, d.process_title, d.total_hours, d.p50_hours, d.p90_hours, d.p50_business_days, d.count]
        for d in steps
    ]
    return (
        alt.Chart(pd.DataFrame(rows, columns=columns))
        .mark_bar()
        .encode(
            x=alt.X("Усього, год:Q", title="Усього годин у кроці за період", axis=alt.Axis(format=",.2~f")),
            y=alt.Y("Крок:N", title=None, sort="-x", axis=alt.Axis(labelLimit=200)),
            color=alt.Color("Процес:N", title="Процес", legend=alt.Legend(orient="bottom", labelLimit=300)),
            tooltip=[alt.Tooltip(f"{c}:{'N' if c in ('Крок', 'Процес') else 'Q'}", title=c) for c in columns],
        )
    )


AREA_METRICS = {
    "open_steps": "Відкриті кроки",
    "overdue": "Прострочені кроки",
    "open_processes": "Відкриті процеси",
    "escalated": "Ескальовані кроки",
    "coverage_pct": "Охоплення, %",
}


def areas_chart(m: Monitor, metric: str = "open_steps") -> alt.Chart:
    """One bar per unit one level down, for the chosen figure."""
    label = AREA_METRICS[metric]
    area = area_column(m)
    rows = [{area: a.name, label: getattr(a, metric)} for a in m.areas]
    axis = _count_axis(max((r[label] for r in rows), default=0))
    return (
        alt.Chart(pd.DataFrame(rows, columns=[area, label]))
        .mark_bar(color="#f58518" if metric in ("overdue", "escalated") else "#4c78a8")
        .encode(
            x=alt.X(f"{label}:Q", title=label, axis=alt.Axis() if metric == "coverage_pct" else axis),
            y=alt.Y(f"{area}:N", title=None, sort="-x", axis=alt.Axis(labelLimit=220)),
            tooltip=[alt.Tooltip(f"{area}:N", title=area), alt.Tooltip(f"{label}:Q", title=label)],
        )
    )


def chart_png(chart: alt.Chart, *, width: int, height: int) -> bytes:
    """The chart as a PNG (vl-convert: Vega in an embedded JavaScript engine, no browser)."""
    import vl_convert

    spec = (
        chart.properties(width=width, height=height)
        .configure(font=FONT_FAMILY)
        .configure_axis(labelFontSize=12, titleFontSize=12)
        .configure_legend(labelFontSize=12, titleFontSize=12, columns=3, labelLimit=320)
        .to_dict()
    )
    return bytes(vl_convert.vegalite_to_png(spec, scale=2))


# --- the PDF summary -------------------------------------------------------------------------------

PAGE_W, PAGE_H, MARGIN = 210.0, 297.0, 12.0
PDF_AREA_COLUMNS = (
    ("Одиниць", "units"),
    ("Активні записи", "accounts_active"),
    ("Охопл., %", "coverage_pct"),
    ("Відкр. процеси", "open_processes"),
    ("Відкр. кроки", "open_steps"),
    ("Простроч.", "overdue"),
    ("Ескал.", "escalated"),
)


def summary_pdf(m: Monitor) -> bytes:
    """The one-page summary for the Ministry: scope and period, key figures, the trends and the
    step-durations charts, and the per-area table (as many rows as one A4 page holds)."""
    from fpdf import FPDF

    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.add_font("DejaVu", "", str(FONT))
    pdf.add_font("DejaVu", "B", str(FONT_BOLD if FONT_BOLD.exists() else FONT))
    pdf.set_title(f"Моніторинг процесів АІКОМ: {m.scope.unit_name}")
    pdf.set_author("АІКОМ Back Office")
    pdf.set_creator("АІКОМ Back Office")
    pdf.set_lang("uk")
    pdf.add_page()
    width = PAGE_W - 2 * MARGIN

    pdf.set_font("DejaVu", "B", 15)
    pdf.multi_cell(width, 7, f"Моніторинг процесів АІКОМ: {m.scope.unit_name}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("DejaVu", "", 9)
    s = m.scope
    pdf.multi_cell(
        width,
        5,
        f"Період: {format_date(s.start)}–{format_date(s.end)} · Процес: {s.process_title or ALL_PROCESSES}"
        f" · Дані на {format_kyiv(m.generated_at)}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(2)
    _figures(pdf, key_figures(m), width)
    pdf.ln(3)

    chart_w, chart_h, gap = (width - 6) / 2, 72.0, 6.0
    top = pdf.get_y()
    steps = [d for d in m.durations if d.step is not None]
    _chart(pdf, "Динаміка", trends_chart(m), MARGIN, top, chart_w, chart_h)
    if steps:
        _chart(
            pdf,
            "Де минає час: кроки",
            step_durations_chart(m, limit=8),
            MARGIN + chart_w + gap,
            top,
            chart_w,
            chart_h,
        )
    else:
        _caption(pdf, "Де минає час: кроки", MARGIN + chart_w + gap, top, chart_w)
        pdf.set_xy(MARGIN + chart_w + gap, top + 8)
        pdf.set_font("DejaVu", "", 8)
        pdf.multi_cell(chart_w, 4, "За період не ухвалено жодного кроку.")
    pdf.set_xy(MARGIN, top + chart_h + 9)
    _areas(pdf, m, width)

    pdf.set_font("DejaVu", "", 7)
    pdf.set_text_color(110)
    pdf.set_xy(MARGIN, PAGE_H - MARGIN - 4)
    pdf.cell(width, 4, f"АІКОМ Back Office · «Моніторинг» · час — {ZONE_LABEL}", align="R")
    return bytes(pdf.output())


def _figures(pdf: Any, figures: list[tuple[str, str]], width: float) -> None:
    gap = 2.0
    box = (width - gap * (len(figures) - 1)) / len(figures)
    top = pdf.get_y()
    for i, (label, value) in enumerate(figures):
        x = MARGIN + i * (box + gap)
        pdf.set_fill_color(232, 238, 247)
        pdf.rect(x, top, box, 17, style="F")
        pdf.set_xy(x, top + 1.5)
        pdf.set_font("DejaVu", "B", 12)
        pdf.cell(box, 6, value, align="C")
        pdf.set_xy(x + 1, top + 8)
        pdf.set_font("DejaVu", "", 6.5)
        pdf.multi_cell(box - 2, 3, label, align="C")
    pdf.set_xy(MARGIN, top + 17)


def _caption(pdf: Any, text: str, x: float, y: float, width: float) -> None:
    pdf.set_xy(x, y)
    pdf.set_font("DejaVu", "B", 10)
    pdf.cell(width, 6, text)


def _chart(pdf: Any, title: str, chart: alt.Chart, x: float, y: float, w: float, h: float) -> None:
    _caption(pdf, title, x, y, w)
    try:
        png = chart_png(chart, width=330, height=200)
    except Exception as error:  # a missing renderer must not cost the whole summary
        log.warning("monitor chart not rendered: %s", error)
        pdf.set_xy(x, y + 8)
        pdf.set_font("DejaVu", "", 8)
        pdf.multi_cell(w, 4, "Графік не вдалося побудувати; дані — у таблиці на сторінці «Моніторинг».")
        return
    pdf.image(io.BytesIO(png), x=x, y=y + 7, w=w, h=h, keep_aspect_ratio=True)


def _areas(pdf: Any, m: Monitor, width: float) -> None:
    area = area_column(m)
    top = pdf.get_y()
    _caption(pdf, f"За територіями ({area.lower()})", MARGIN, top, width)
    pdf.set_xy(MARGIN, top + 7)
    if not m.areas:
        pdf.set_font("DejaVu", "", 8)
        pdf.cell(width, 5, "Нижчих одиниць немає.")
        return
    row_h, head_h = 4.2, 8.0
    available = PAGE_H - MARGIN - 8 - (top + 7) - head_h
    fits = max(1, int(available // row_h))
    rows = list(m.areas)
    truncated = len(rows) > fits
    if truncated:
        fits -= 1  # room for the note below the table
        rows = sorted(rows, key=lambda a: (-a.open_steps, -a.open_processes, a.name))[:fits]
    number_w = 17.0
    name_w = width - number_w * len(PDF_AREA_COLUMNS)
    pdf.set_font("DejaVu", "B", 6.5)
    pdf.set_fill_color(232, 238, 247)
    y = pdf.get_y()
    pdf.rect(MARGIN, y, width, head_h, style="F")
    pdf.set_xy(MARGIN + 1, y + 2)
    pdf.cell(name_w - 1, 4, area)
    for i, (label, _) in enumerate(PDF_AREA_COLUMNS):
        pdf.set_xy(MARGIN + name_w + i * number_w, y + 0.5)
        pdf.multi_cell(number_w, 3.5, label, align="R")
    y += head_h
    pdf.set_font("DejaVu", "", 7)
    for n, a in enumerate(rows):
        if n % 2:
            pdf.set_fill_color(246, 246, 246)
            pdf.rect(MARGIN, y, width, row_h, style="F")
        pdf.set_xy(MARGIN + 1, y)
        pdf.cell(name_w - 1, row_h, _fit(pdf, a.name, name_w - 2))
        for i, (_, field) in enumerate(PDF_AREA_COLUMNS):
            value = getattr(a, field)
            text = f"{value:.1f}".replace(".", ",") if isinstance(value, float) else str(value)
            pdf.set_xy(MARGIN + name_w + i * number_w, y)
            pdf.cell(number_w, row_h, text, align="R")
        y += row_h
    if truncated:
        pdf.set_xy(MARGIN, y + 0.5)
        pdf.set_font("DejaVu", "", 7)
        pdf.cell(
            width,
            row_h,
            f"Показано {len(rows)} з {len(m.areas)} (найбільше відкритих кроків); "
            "повний перелік — у файлі XLSX зі сторінки «Моніторинг».",
        )


def _fit(pdf: Any, text: str, width: float) -> str:
    """`text` cut (with an ellipsis) to fit `width` mm in the current font."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text + "…"
