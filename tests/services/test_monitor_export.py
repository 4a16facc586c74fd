"""The monitor's files: every table as CSV and XLSX (the same rows as on the page), and the one-page PDF
summary for the Ministry."""

from __future__ import annotations

import contextlib
import csv
import io
import re
import zlib
from datetime import UTC, date, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy.orm import Session

from aikom.models import AccountState, OrgLevel, PersonRole, ProcessState, TaskState
from aikom.services import monitor_export as export
from aikom.services.monitor import Monitor, MonitorQuery, monitor
from tests import factories as f

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday


def _figures(session: Session) -> Monitor:
    """A small country: one oblast with an open overdue step and a finished process; a national manager."""
    units = f.cascade(session)
    units["oblast"].name = "Полтавська область"
    second = f.org_unit(session, level=OrgLevel.OBLAST, parent=units["national"], name="Сумська область")
    admin = f.person(session, f.account(session, units["hromada"]), role=PersonRole.HROMADA_ADMIN)
    f.account(session, units["school"], state=AccountState.PENDING)
    f.account(session, second)
    manager = f.person(session, f.account(session, units["national"]), role=PersonRole.MANAGER)
    waiting, overdue = f.approval_task(
        session,
        requester=admin,
        subject=units["school"],
        scope=units["hromada"],
        allowed_roles=[PersonRole.HROMADA_ADMIN],
    )
    overdue.created_at = NOW - timedelta(days=6)
    overdue.due_at = NOW - timedelta(days=2)
    waiting.created_at = NOW - timedelta(days=6)
    waiting.state = ProcessState.WAITING
    done, step = f.approval_task(
        session,
        requester=admin,
        subject=units["school"],
        scope=units["hromada"],
        allowed_roles=[PersonRole.HROMADA_ADMIN],
    )
    done.created_at = step.created_at = NOW - timedelta(days=4)
    step.state, step.decided_at = TaskState.DECIDED, NOW - timedelta(days=3)
    done.state, done.finished_at = ProcessState.COMPLETED, NOW - timedelta(days=3)
    session.flush()
    query = MonitorQuery(start=date(2026, 11, 1), end=date(2026, 11, 18))
    figures = monitor(session, manager, query, now=NOW)
    # The test database is shared: a national view also lists other tests' open steps. Keep ours.
    ours = {waiting.id, done.id}
    worst = [w for w in figures.breaches.worst if w.process_id in ours]
    return figures.model_copy(
        update={
            "oldest": [w for w in figures.oldest if w.process_id in ours],
            "breaches": figures.breaches.model_copy(update={"worst": worst}),
        }
    )


@pytest.fixture
def figures(session: Session) -> Monitor:
    return _figures(session)


def test_every_table_has_a_ukrainian_header_and_the_figures(figures: Monitor) -> None:
    tables = export.all_tables(figures)
    assert list(tables) == [
        "counts",
        "steps",
        "breaches",
        "oldest",
        "durations",
        "trends",
        "areas",
        "coverage",
    ]
    areas = tables["areas"]
    assert areas.columns[0] == "Область"
    assert [row[0] for row in areas.rows] == ["Полтавська область", "Сумська область"]
    poltava = areas.rows[0]
    assert poltava[areas.columns.index("Відкритих кроків")] == 1
    assert poltava[areas.columns.index("Прострочено")] == 1
    breaches = tables["breaches"]
    assert len(breaches.rows) == 1
    assert isinstance(breaches.rows[0][breaches.columns.index("Прострочено, год")], float)
    assert any("за київським часом" in c for c in breaches.columns)
    assert len(tables["trends"].rows) == 18  # one per day, 01.11–18.11


def test_the_csv_parses_to_the_rows_of_the_table(figures: Monitor) -> None:
    for table in export.all_tables(figures).values():
        data = export.to_csv(table)
        assert data.startswith(b"\xef\xbb\xbf")  # a BOM: spreadsheet programs read it as UTF-8
        rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
        assert rows[0] == table.columns, table.key
        assert rows[1:] == table.text_rows(), table.key
    trends = export.trends_table(figures)
    assert trends.text_rows()[0][0] == "01.11.2026"


def _read_back(value: object, expected: object) -> object:
    """openpyxl reads a date cell back as a datetime at midnight."""
    if isinstance(expected, date) and not isinstance(expected, datetime) and isinstance(value, datetime):
        return value.date()
    return value


def test_the_workbook_reads_back_the_same_rows(figures: Monitor) -> None:
    for table in export.all_tables(figures).values():
        book = load_workbook(io.BytesIO(export.to_xlsx(table, figures)))
        sheet = book.worksheets[0]
        read = [list(row) for row in sheet.iter_rows(values_only=True)]
        assert read[0] == table.columns, table.key
        body = [
            [_read_back(v, e) for v, e in zip(row, expected, strict=True)]
            for row, expected in zip(read[1:], table.rows, strict=True)
        ]
        assert body == table.rows, table.key
        assert sheet.freeze_panes == "A2"
        assert book.worksheets[1].title == "Відомості"
    breaches = export.breaches_table(figures)
    sheet = load_workbook(io.BytesIO(export.to_xlsx(breaches))).worksheets[0]
    assert sheet.cell(row=2, column=1).data_type == "n"  # the process number is a number
    assert isinstance(sheet.cell(row=2, column=7).value, datetime)  # «Очікує з», Kyiv time
    assert sheet.cell(row=2, column=7).value == datetime(2026, 11, 12, 14, 0)  # 12:00 UTC = 14:00 Kyiv


def _pdf_text(data: bytes) -> str:
    """The text the pages show (pypdf is not a dependency). fpdf2 embeds DejaVu subsets: a `(…) Tj`
    string holds two-byte glyph ids of the font chosen by the last `/Fn size Tf`, and that font's
    ToUnicode map turns them back into characters."""
    objects: dict[int, tuple[bytes, bytes]] = {}
    for number, body in re.findall(rb"(\d+) 0 obj(.*?)endobj", data, re.S):
        head, _, rest = body.partition(b"stream")
        stream = re.sub(rb"^\r?\n|\r?\nendstream\s*$", b"", rest)
        with contextlib.suppress(zlib.error):
            stream = zlib.decompress(stream)
        objects[int(number)] = (head, stream)

    def ref(head: bytes, key: bytes) -> int:
        return int(re.search(rb"/" + key + rb"\s+(\d+) 0 R", head).group(1))  # type: ignore[union-attr]

    fonts: dict[bytes, dict[int, str]] = {}
    for head, _ in objects.values():
        for name, number in re.findall(rb"/(F\d+)\s+(\d+) 0 R", head):
            cmap = objects[ref(objects[int(number)][0], b"ToUnicode")][1]
            pairs = re.findall(rb"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", cmap.split(b"beginbfchar")[-1])
            fonts[name] = {int(a, 16): bytes.fromhex(b.decode()).decode("utf-16-be") for a, b in pairs}
    lines, font = [], b""
    for head, stream in objects.values():
        if b"/Length" not in head or b"Tj" not in stream:
            continue
        for name, literal in re.findall(rb"/(F\d+)\s+[\d.]+\s+Tf|\(((?:\\.|[^\\)])*)\)\s*Tj", stream, re.S):
            if name:
                font = name
                continue
            raw = re.sub(rb"\\([0-7]{1,3}|.)", _unescape, literal, flags=re.S)
            glyphs = (int.from_bytes(raw[i : i + 2]) for i in range(0, len(raw), 2))
            lines.append("".join(fonts[font].get(g, "?") for g in glyphs))
    return "\n".join(lines)


def _unescape(m: re.Match[bytes]) -> bytes:
    """One backslash escape of a PDF literal string (\\ddd octal, \\n, \\(, \\\\ …)."""
    code = m.group(1)
    if code[:1].isdigit():
        return bytes([int(code, 8)])
    return {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}.get(code, code)


def test_the_pdf_summary_is_one_page_with_the_scope_and_both_charts(figures: Monitor) -> None:
    data = export.summary_pdf(figures)
    assert data.startswith(b"%PDF")
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == 1  # one page
    assert len(re.findall(rb"/Subtype\s*/Image", data)) >= 2  # the trends and step-duration charts
    text = _pdf_text(data)
    assert f"Моніторинг процесів АІКОМ: {figures.scope.unit_name}" in text
    assert "01.11.2026–18.11.2026" in text
    assert "Полтавська область" in text and "Сумська область" in text
    assert "Прострочені кроки" in " ".join(text.split())  # a key figure's label (wrapped in its box)


def test_the_pdf_keeps_to_one_page_with_many_areas(session: Session) -> None:
    figures = _figures(session)
    one = figures.areas[0]
    areas = [one.model_copy(update={"name": f"Громада {n:03}"}) for n in range(80)]
    many = figures.model_copy(update={"areas": areas})
    data = export.summary_pdf(many)
    assert len(re.findall(rb"/Type\s*/Page\b", data)) == 1
    assert "повний перелік — у файлі XLSX" in _pdf_text(data)
