"""On a database without org units the start command imports the codifier and the register."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from aikom.imports import CODIFIER_FILE, COMPARISON_FILE, REGISTER_FILE, import_registers_if_empty
from aikom.models import OrgLevel, OrgUnit
from aikom.settings import Settings
from tests.imports.helpers import CODIFIER, COMPARISON, REGISTER, throwaway_database


@pytest.fixture
def empty_database(database_url: str) -> Iterator[str]:
    with throwaway_database(database_url) as url:
        yield url
        from aikom.db import get_engine

        get_engine(url).dispose()


@pytest.fixture
def shared_data(tmp_path: Path) -> Path:
    """The fixture registers under the names the real shared folder uses."""
    for source, name in ((CODIFIER, CODIFIER_FILE), (COMPARISON, COMPARISON_FILE), (REGISTER, REGISTER_FILE)):
        shutil.copy(source, tmp_path / name)
    return tmp_path


def test_imports_everything_once_and_then_leaves_the_database_alone(
    empty_database: str, shared_data: Path
) -> None:
    settings = Settings(database_url=empty_database, shared_data_dir=shared_data)

    first = import_registers_if_empty(settings)
    second = import_registers_if_empty(settings)

    assert first["imported"] is True
    assert first["katottg"]["created"] == 63 and first["schools"]["created"] == 10
    assert first["schools"]["refused"] == 7 and first["schools"]["needs_placement_count"] == 3
    assert second == {"imported": False, "reason": "В базі вже є організаційні одиниці"}
    engine = create_engine(empty_database)
    with engine.connect() as conn:
        schools = conn.execute(
            select(func.count()).select_from(OrgUnit).where(OrgUnit.level == OrgLevel.SCHOOL)
        ).scalar_one()
    engine.dispose()
    assert schools == 10


def test_missing_register_files_are_reported_not_raised(empty_database: str, tmp_path: Path) -> None:
    result = import_registers_if_empty(Settings(database_url=empty_database, shared_data_dir=tmp_path))

    assert result["imported"] is False and len(result["missing"]) == 3
