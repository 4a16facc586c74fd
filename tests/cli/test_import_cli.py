"""`aikom import …` and `aikom org …` as a person or a script sees them: JSON, Ukrainian text, exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from aikom.cli import imports as imports_cli
from aikom.cli import org as org_cli
from aikom.cli.main import app
from aikom.models import OrgLevel, OrgUnit
from tests.imports.helpers import (
    BERDIANSK_HROMADA,
    CODIFIER,
    COMPARISON,
    EXPORT,
    REGISTER,
    level_counts,
    throwaway_database,
)

runner = CliRunner()
PLACE = ["--katottg", str(CODIFIER), "--koatuu-map", str(COMPARISON)]


@pytest.fixture
def cli_session(session: Session, monkeypatch: pytest.MonkeyPatch) -> Session:
    """Point the commands' unit of work at the rolled-back test session."""

    @contextmanager
    def unit_of_work() -> Iterator[Session]:
        yield session
        session.flush()

    monkeypatch.setattr(imports_cli, "unit_of_work", unit_of_work)
    monkeypatch.setattr(org_cli, "unit_of_work", unit_of_work)
    return session


def _invoke(*args: str) -> Result:
    return runner.invoke(app, list(args))


def _json(result: Result) -> Any:
    return json.loads(result.stdout)


def test_import_katottg_reports_counts_and_refused_rows_as_json(cli_session: Session) -> None:
    # Tests that commit their rows may have left a national root, which the import reuses.
    root_exists = cli_session.scalar(select(OrgUnit.id).where(OrgUnit.level == OrgLevel.NATIONAL).limit(1))
    result = _invoke("import", "katottg", str(CODIFIER), "--json")

    assert result.exit_code == 0, result.output
    report = _json(result)
    assert report["import"] == "katottg" and report["created"] == 63 - (root_exists is not None)
    assert report["counts"]["O"] == 2 and report["counts"]["H"] == 39
    assert [(r["line"], r["code"]) for r in report["refused_rows"]] == [
        (112, "bad_katottg"),
        (113, "unknown_category"),
    ]


def test_import_schools_json_lists_every_refused_row_with_reason_and_the_schools_to_place(
    cli_session: Session,
) -> None:
    _invoke("import", "katottg", str(CODIFIER))

    result = _invoke("import", "schools", str(REGISTER), "--json", *PLACE)

    assert result.exit_code == 0, result.output
    report = _json(result)
    assert report["format"] == "register" and report["created"] == 10 and report["refused"] == 7
    reasons = {r["line"]: (r["code"], r["reason"]) for r in report["refused_rows"]}
    assert reasons[12][0] == "bad_check_digit" and "контрольну цифру" in reasons[12][1]
    assert reasons[15] == (
        "duplicate_edrpou",
        "Код ЄДРПОУ 26338802 уже є в рядку 2 («Бердянська загальноосвітня школа І-ІІІ ступенів № 7 "
        "Бердянської міської ради Запорізької області»)",
    )
    assert reasons[17] == ("missing_name", "Немає назви закладу")
    assert report["refused_by_code"]["edrpou_lost_zeros"] == 1
    assert [w["line"] for w in report["warnings"] if w["code"] == "edrpou_zeros_restored"] == [13]
    assert {p["line"] for p in report["needs_placement"]} == {9, 10, 20}
    assert all(p["note"] for p in report["needs_placement"])


def test_without_json_a_short_ukrainian_summary(cli_session: Session) -> None:
    _invoke("import", "katottg", str(CODIFIER))
    first = _invoke("import", "schools", str(EXPORT), *PLACE)
    again = _invoke("import", "schools", str(EXPORT), *PLACE)

    assert first.exit_code == 0, first.output
    assert "створено: 11" in first.stdout and "відхилено: 4" in first.stdout
    assert "Потребують розміщення адміністратором: 2" in first.stdout
    assert "створено: 0; оновлено: 0; без змін: 11" in again.stdout


def test_a_missing_file_or_missing_codifier_is_a_ukrainian_error_without_traceback(
    cli_session: Session, tmp_path: Path
) -> None:
    missing = _invoke("import", "katottg", str(tmp_path / "nope.csv"), "--json")
    no_codifier = _invoke("import", "schools", str(REGISTER), *PLACE)

    assert missing.exit_code == 1 and _json(missing)["error"] == "file_not_found"
    assert "не знайдено" in _json(missing)["message"]
    assert no_codifier.exit_code == 1 and "спочатку імпортуйте кодифікатор" in no_codifier.output
    assert "Traceback" not in missing.output + no_codifier.output


def test_org_show_by_edrpou_katottg_and_id(cli_session: Session) -> None:
    _invoke("import", "katottg", str(CODIFIER))
    _invoke("import", "schools", str(REGISTER), *PLACE)

    by_edrpou = _invoke("org", "show", "26338802", "--json")
    assert by_edrpou.exit_code == 0, by_edrpou.output
    card = _json(by_edrpou)
    assert card["unit"]["level"] == "school" and card["unit"]["edrpou"] == "26338802"
    assert [p["level"] for p in card["parents"]] == ["national", "oblast", "rayon", "hromada"]
    assert card["managing_body"]["katottg"] == BERDIANSK_HROMADA

    by_katottg = _json(_invoke("org", "show", BERDIANSK_HROMADA, "--json"))
    assert by_katottg["unit"]["name"] == "Бердянська територіальна громада"
    assert by_katottg["children"] == {"school": 1}
    by_id = _json(_invoke("org", "show", str(by_katottg["unit"]["id"]), "--json"))
    assert by_id["unit"]["katottg"] == BERDIANSK_HROMADA

    human = _invoke("org", "show", "26338802")
    assert "Підпорядкування: Україна → Запорізька область → Бердянський район" in human.stdout


def test_org_show_unknown_code_exits_1_with_a_ukrainian_message(cli_session: Session) -> None:
    result = _invoke("org", "show", "99999997")
    as_json = _invoke("org", "show", "UA1", "--json")

    assert result.exit_code == 1 and "«99999997» не знайдено" in result.output
    assert as_json.exit_code == 1 and _json(as_json)["error"] == "validation_failed"
    assert "Traceback" not in result.output


def test_org_tree_counts_per_level_and_oblast(cli_session: Session) -> None:
    before = (
        _json(_invoke("org", "tree", "--json"))["by_level"] if level_counts(cli_session)["national"] else {}
    )
    _invoke("import", "katottg", str(CODIFIER))
    _invoke("import", "schools", str(REGISTER), *PLACE)

    result = _invoke("org", "tree", "--json")

    assert result.exit_code == 0, result.output
    tree = _json(result)
    grown = {k: n - before.get(k, 0) for k, n in tree["by_level"].items() if n != before.get(k, 0)}
    assert {k: v for k, v in grown.items() if k != "national"} == {
        "oblast": 4,
        "rayon": 12,
        "hromada": 39,
        "district": 7,
        "school": 10,
    }
    assert tree["needs_placement"] >= 3
    assert {o["name"] for o in tree["oblasts"]} >= {"Запорізька область", "м. Київ", "м. Севастополь"}
    assert "Запорізька область: район — " in _invoke("org", "tree").stdout


def test_the_commands_use_the_configured_database_and_commit(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aikom import db
    from aikom.settings import get_settings

    def clear_caches() -> None:
        get_settings.cache_clear()
        for value in vars(db).values():
            if callable(getattr(value, "cache_clear", None)):
                value.cache_clear()

    with throwaway_database(database_url) as url:
        monkeypatch.setenv("AIKOM_DATABASE_URL", url)
        clear_caches()
        try:
            empty = _invoke("org", "tree")
            imported = _invoke("import", "katottg", str(CODIFIER), "--json")
            tree = _invoke("org", "tree", "--json")
        finally:
            db.get_engine().dispose()
            monkeypatch.delenv("AIKOM_DATABASE_URL")
            clear_caches()

    assert empty.exit_code == 1 and "Організаційних одиниць ще немає" in empty.output
    assert imported.exit_code == 0 and _json(imported)["created"] == 63
    assert _json(tree)["by_level"]["hromada"] == 39


def test_ouo_contacts_set_official_emails_and_refuse_what_does_not_fit(
    cli_session: Session, tmp_path: Path
) -> None:
    from tests import factories

    units = factories.cascade(cli_session)
    rayon, hromada = units["rayon"], units["hromada"]
    rayon.katottg, rayon.name = "UA35020000000000001", "Кропивницький район"
    hromada.katottg, hromada.name = "UA35020130000000002", "Кропивницька міська громада"
    cli_session.flush()
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "katottg;name;email\n"
        "UA35020000000000001;Кропивницький район;osvita@kropyvnytskyi-rda.gov.ua\n"
        "UA35020130000000002;Інша громада;x@example.org\n"
        "UA99999999999999999;Невідома;y@example.org\n"
        "UA35020130000000002;Кропивницька міська громада;не адреса\n",
        encoding="utf-8",
    )
    result = _invoke("import", "ouo-contacts", str(contacts), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["updated"] == 1
    assert {r["code"] for r in report["refused_rows"]} == {
        "name_mismatch",
        "unknown_katottg",
        "invalid_email",
    }
    cli_session.expire_all()
    assert cli_session.get_one(OrgUnit, rayon.id).official_email == "osvita@kropyvnytskyi-rda.gov.ua"
    assert cli_session.get_one(OrgUnit, hromada.id).official_email is None
    again = json.loads(_invoke("import", "ouo-contacts", str(contacts), "--json").stdout)
    assert again["updated"] == 0 and again["unchanged"] == 1
