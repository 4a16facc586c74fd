"""Imports of the national registers: the КАТОТТГ codifier and the ЄДЕБО schools."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from aikom.imports.katottg import import_katottg
from aikom.imports.report import ImportReport, Progress, no_progress
from aikom.imports.schools import import_schools
from aikom.models import OrgUnit
from aikom.settings import Settings

log = logging.getLogger(__name__)

CODIFIER_FILE = "katottg-2025-05-16.csv"
COMPARISON_FILE = "katottg-koatuu-comparison.csv"
REGISTER_FILE = "edebo-schools-register.csv"


def register_paths(settings: Settings) -> dict[str, Path]:
    """The register files in the shared data folder."""
    folder = settings.shared_data_dir
    return {
        "codifier": folder / CODIFIER_FILE,
        "comparison": folder / COMPARISON_FILE,
        "register": folder / REGISTER_FILE,
    }


def brief(report: ImportReport) -> dict[str, Any]:
    """The counts of a report without its row lists (for start-up output)."""
    full = report.to_json()
    return {k: v for k, v in full.items() if k not in ("refused_rows", "warnings", "needs_placement")}


def import_registers(
    *, session: Session, settings: Settings, progress: Progress = no_progress
) -> dict[str, Any]:
    """Import the codifier, then the whole ЄДЕБО register, from the shared data folder."""
    paths = register_paths(settings)
    katottg = import_katottg(session=session, path=paths["codifier"], progress=progress)
    schools = import_schools(
        session=session,
        path=paths["register"],
        codifier_path=paths["codifier"],
        comparison_path=paths["comparison"],
        progress=progress,
    )
    # Branches ЄДЕБО marks without naming their hub are linked (or queued) right after the import.
    from aikom.services.branch_linking import link_branches

    branches = link_branches(session=session)
    return {"katottg": brief(katottg), "schools": brief(schools), "branch_links": branches.to_json()}


def import_registers_if_empty(settings: Settings, progress: Progress = no_progress) -> dict[str, Any]:
    """On a database without org units, import КАТОТТГ and the whole register (one transaction)."""
    from aikom.db import database_url, unit_of_work

    with unit_of_work(database_url(settings)) as session:
        if session.execute(select(exists().where(OrgUnit.id.is_not(None)))).scalar():
            return {"imported": False, "reason": "В базі вже є організаційні одиниці"}
        missing = [str(p) for p in register_paths(settings).values() if not p.is_file()]
        if missing:
            log.warning("registers not imported, files missing: %s", missing)
            return {"imported": False, "reason": "Немає файлів реєстрів", "missing": missing}
        result = import_registers(session=session, settings=settings, progress=progress)
    return {"imported": True, **result}


__all__ = [
    "ImportReport",
    "import_katottg",
    "import_registers",
    "import_registers_if_empty",
    "import_schools",
    "register_paths",
]
