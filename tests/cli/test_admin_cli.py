"""`aikom admin bootstrap FILE.json`: the first national staff of a production system, once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from aikom.db import get_engine, session_factory, unit_of_work
from aikom.models import OrgLevel, Person
from aikom.settings import get_settings
from tests import factories as f
from tests.cli.conftest import Aikom
from tests.imports.helpers import throwaway_database


@pytest.fixture
def production(aikom: Aikom, database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty database with only the national root, as after the register import; demo mode off."""

    def forget_engines() -> None:
        # `unit_of_work()` keeps the first database it opened for the process: let it open this one.
        session_factory.cache_clear()
        get_engine.cache_clear()

    with throwaway_database(database_url) as url:
        monkeypatch.setenv("AIKOM_DATABASE_URL", url)
        monkeypatch.setenv("AIKOM_DEMO_MODE", "false")
        get_settings.cache_clear()
        forget_engines()
        with unit_of_work(url) as s:
            f.org_unit(s, level=OrgLevel.NATIONAL, name="Україна")
        try:
            yield url
        finally:
            get_engine(None).dispose()
            get_engine(url).dispose()
            forget_engines()


def _file(tmp_path: Path, data: object, name: str = "staff.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def _persons(url: str) -> int:
    with unit_of_work(url) as s:
        return int(s.scalar(select(func.count()).select_from(Person)) or 0)


def test_bootstrap_creates_the_first_admins_once(aikom: Aikom, production: str, tmp_path: Path) -> None:
    admin_rnokpp = f.rnokpp()
    staff = _file(
        tmp_path,
        {
            "institute": {"edrpou": f.edrpou()},
            "persons": [
                {"full_name": "Ткаченко Ірина Василівна", "rnokpp": admin_rnokpp, "email": "it@iea.gov.ua",
                 "role": "institute_admin"},
                {"full_name": "Лисенко Марія Іванівна", "rnokpp": f.rnokpp(), "email": "support@iea.gov.ua",
                 "role": "support_agent"},
                {"full_name": "Кравченко Юрій Петрович", "rnokpp": f.rnokpp(), "email": "m@iea.gov.ua",
                 "role": "manager"},
            ],
        },
    )  # fmt: skip

    code, first = aikom("admin", "bootstrap", staff)
    code_again, second = aikom("admin", "bootstrap", staff)

    assert code == 0, first
    assert [(p["role"], p["state"]) for p in first["created"]] == [
        ("institute_admin", "pending"), ("support_agent", "pending"), ("manager", "pending"),
    ]  # fmt: skip
    assert first["account_created"] is True and first["institute"] == "Україна"
    assert admin_rnokpp not in json.dumps(first)
    assert code_again == 0 and second["created"] == []
    assert [p["person_id"] for p in second["existing"]] == [p["person_id"] for p in first["created"]]
    assert _persons(production) == 3


def test_a_bad_file_is_refused_in_ukrainian_and_nothing_is_written(
    aikom: Aikom, production: str, tmp_path: Path
) -> None:
    bad_row = {"full_name": "Адмін 1", "rnokpp": "123", "email": "admin@iea.gov.ua", "role": "oblast_admin"}
    staff = _file(tmp_path, {"institute": {"edrpou": f.edrpou()}, "persons": [bad_row]})

    code, refused = aikom("admin", "bootstrap", staff)

    assert code == 1 and refused["error"] == "validation_failed"
    assert refused["message"].startswith("Файл не прийнято, нікого не створено: Рядок 1: ПІБ: лише літери")
    assert "РНОКПП: " in refused["message"] and "Роль: «oblast_admin»" in refused["message"]
    broken = tmp_path / "broken.json"
    broken.write_text('{"persons": [', encoding="utf-8")
    code, refused = aikom("admin", "bootstrap", str(broken))
    assert code == 1 and refused["message"].startswith(f"Файл «{broken}» не є коректним JSON")
    code, refused = aikom("admin", "bootstrap", str(tmp_path / "missing.json"))
    assert code == 1 and "не знайдено" in refused["message"]
    assert _persons(production) == 0
