"""Shared by the import, org-service and CLI tests: the fixture registers and throwaway databases."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from aikom.imports import import_katottg, import_schools
from aikom.imports.report import ImportReport
from aikom.models import OrgLevel, OrgUnit

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "imports"
CODIFIER = FIXTURES / "katottg.csv"
COMPARISON = FIXTURES / "koatuu-comparison.csv"
REGISTER = FIXTURES / "register.csv"
EXPORT = FIXTURES / "export.csv"
EXPORT_WITH_EDRPOU = FIXTURES / "export-with-edrpou.csv"

# КАТОТТГ of units the fixture codifier holds.
ZAPORIZHZHIA = "UA23000000000064947"
ODESA = "UA51000000000030770"
KYIV = "UA80000000000093317"
SEVASTOPOL = "UA85000000000065278"
BERDIANSK_HROMADA = "UA23020050000046501"
VASYLIVKA_RAYON = "UA23040000000067730"


def import_fixture_katottg(session: Session) -> ImportReport:
    """Import the fixture codifier."""
    return import_katottg(session=session, path=CODIFIER)


def import_fixture_schools(session: Session, path: Path) -> ImportReport:
    """Import a fixture school file, placing schools with the fixture codifier."""
    return import_schools(session=session, path=path, codifier_path=CODIFIER, comparison_path=COMPARISON)


def unit_by(session: Session, **criteria: str) -> OrgUnit:
    """The one unit with these column values."""
    query = select(OrgUnit)
    for column, value in criteria.items():
        query = query.where(getattr(OrgUnit, column) == value)
    return session.scalars(query).one()


def level_counts(session: Session) -> dict[str, int]:
    """Units per level now (other tests may have committed units to the shared test database)."""
    rows = session.execute(select(OrgUnit.level, func.count()).group_by(OrgUnit.level)).all()
    counts = {level.value: 0 for level in OrgLevel}
    counts.update({str(level): int(n) for level, n in rows})
    return counts


def added(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """Units added per level between two `level_counts` (levels with none added left out)."""
    return {level: after[level] - before[level] for level in after if after[level] != before[level]}


@contextmanager
def throwaway_database(any_url: str) -> Iterator[str]:
    """A fresh, migrated database on the same server as `any_url`; dropped afterwards."""
    from aikom.migrate import upgrade_database
    from aikom.settings import Settings

    server = make_url(any_url)
    name = f"aikom_tmp_{uuid.uuid4().hex[:10]}"
    url = server.set(database=name).render_as_string(hide_password=False)
    upgrade_database(Settings(database_url=url), url)
    try:
        yield url
    finally:
        admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
