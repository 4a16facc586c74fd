"""`aikom process types|start|list|show`: every process comes from the registry; bad parameters are named
field by field, all at once; the support desk starts a process on a requester's behalf."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from aikom.db import unit_of_work
from aikom.models import AuditEntry, OrgLevel, Person, PersonRole, Process
from aikom.processes import all_specs
from aikom.services import processes
from tests import factories as f
from tests.cli.conftest import Aikom


@dataclass
class School:
    """A school with an account, managed by a hromada with an admin; a support agent and a rayon admin."""

    edrpou: str
    school_id: int
    hromada_id: int
    oblast_id: int
    admin: int  # hromada admin: may start a director replacement
    rayon_admin: int
    agent: int  # support desk
    manager: int  # an oblast manager of another oblast


def _school() -> School:
    from aikom.settings import get_settings

    with unit_of_work(get_settings().database_url) as s:
        units = f.cascade(s, with_edrpou=True)
        f.account(s, units["school"])
        other = f.org_unit(s, level=OrgLevel.OBLAST, parent=units["national"])
        admin = f.person(s, f.account(s, units["hromada"]), role=PersonRole.HROMADA_ADMIN)
        rayon_admin = f.person(s, f.account(s, units["rayon"]), role=PersonRole.RAYON_ADMIN)
        agent = f.person(s, f.account(s, units["national"]), role=PersonRole.SUPPORT_AGENT)
        manager = f.person(s, f.account(s, other), role=PersonRole.MANAGER)
        assert units["school"].edrpou is not None
        return School(
            edrpou=units["school"].edrpou,
            school_id=units["school"].id,
            hromada_id=units["hromada"].id,
            oblast_id=units["oblast"].id,
            admin=admin.id,
            rayon_admin=rayon_admin.id,
            agent=agent.id,
            manager=manager.id,
        )


def _params(tmp_path: Path, data: dict[str, Any]) -> str:
    path = tmp_path / "params.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return str(path)


def _new_director(**overrides: Any) -> dict[str, Any]:
    return {
        "full_name": "Нова Директорка Оксана Петрівна",
        "rnokpp": f.rnokpp(),
        "email": "new.director@example.org",
        "order_no": "15-к",
        "order_date": date.today().isoformat(),
        **overrides,
    }


def test_types_lists_every_declared_process_with_its_parameters_schema(aikom: Aikom) -> None:
    code, types = aikom("process", "types")

    assert code == 0
    by_type = {t["type"]: t for t in types}
    # Every declared process (others are added beside these: the registry says which).
    assert set(by_type) == {spec.type for spec in all_specs(demo=True)}
    assert {"director-replacement", "demo-approval"} <= set(by_type)
    demo = by_type["demo-approval"]
    assert demo["title"] == "Демонстраційний запит на погодження"
    assert set(demo["parameters"]["properties"]) == {"org", "title", "due_in_seconds", "due_business_days"}
    replacement = by_type["director-replacement"]["parameters"]
    assert replacement["required"] == ["school", "new_director"]
    assert "hromada_admin" in by_type["director-replacement"]["starter_roles"]


def test_types_without_demo_mode_has_no_demo_process(aikom: Aikom, monkeypatch: pytest.MonkeyPatch) -> None:
    from aikom.settings import get_settings

    monkeypatch.setenv("AIKOM_DEMO_MODE", "false")
    get_settings.cache_clear()
    code, types = aikom("process", "types")
    assert code == 0 and [t["type"] for t in types] == [spec.type for spec in all_specs(demo=False)]
    assert "director-replacement" in [t["type"] for t in types]
    assert "demo-approval" not in [t["type"] for t in types]


def test_an_unknown_type_is_refused_naming_the_known_ones(aikom: Aikom) -> None:
    school = _school()
    code, refused = aikom("process", "start", "school-closure", "--as", str(school.admin))

    assert code == 1
    assert refused["error"] == "unknown_process_type"
    known = ", ".join(spec.type for spec in all_specs(demo=True))
    assert refused["message"] == f"Тип процесу: «school-closure» не існує; можливі: {known}."
    assert known.startswith("director-replacement, ") and known.endswith(", demo-approval")


def test_an_empty_new_director_is_refused_naming_every_missing_field(aikom: Aikom, tmp_path: Path) -> None:
    school = _school()
    params = _params(tmp_path, {"school": school.edrpou, "new_director": {}})

    code, refused = aikom(
        "process", "start", "director-replacement", "--params", params, "--as", str(school.admin)
    )

    assert code == 1 and refused["error"] == "validation_failed"
    assert refused["message"] == (
        "ПІБ: обов'язкове поле; РНОКПП: обов'язкове поле; Електронна пошта: обов'язкове поле; "
        "Номер наказу: обов'язкове поле; Дата наказу: обов'язкове поле."
    )
    with unit_of_work(None) as s:
        assert s.scalars(select(Process).where(Process.subject_org_unit_id == school.school_id)).all() == []


@pytest.mark.parametrize("name", ["[Директор](https://evil.example)", "Петренко 2-й"])
def test_a_name_with_markdown_or_digits_is_refused(aikom: Aikom, tmp_path: Path, name: str) -> None:
    school = _school()
    params = _params(tmp_path, {"school": school.edrpou, "new_director": _new_director(full_name=name)})

    code, refused = aikom(
        "process", "start", "director-replacement", "--params", params, "--as", str(school.admin)
    )

    assert code == 1
    assert refused["message"] == "ПІБ: лише літери, апостроф, дефіс, пробіл і крапка."


def test_a_set_overrides_the_params_file_and_bad_values_are_named(aikom: Aikom, tmp_path: Path) -> None:
    school = _school()
    params = _params(tmp_path, {"school": school.edrpou, "new_director": _new_director()})

    code, refused = aikom(
        "process", "start", "director-replacement", "--params", params, "--set", "new_director.email=ні",
        "--set", "new_director.order_date=завтра", "--set", "colour=red", "--as", str(school.admin),
    )  # fmt: skip

    assert code == 1
    assert refused["message"] == (
        "Електронна пошта: потрібна адреса виду ім'я@домен.укр; Дата наказу: потрібна дата у форматі "
        "РРРР-ММ-ДД; colour: невідоме поле."
    )


def test_a_demo_process_declared_only_in_the_registry_is_recorded_while_the_engine_is_down(
    aikom: Aikom, tmp_path: Path
) -> None:
    school = _school()
    params = _params(tmp_path, {"title": "Перевірка доступу", "due_business_days": 2})

    code, started = aikom(
        "process", "start", "demo-approval", "--params", params, "--set", f"org={school.hromada_id}",
        "--as", str(school.admin),
    )  # fmt: skip

    assert code == 0, started
    assert started["started"] is False and started["flow_run_id"] is None
    assert "збережено" in started["message"] and "автоматично" in started["message"]
    code, shown = aikom("process", "show", str(started["process_id"]), "--as", str(school.admin))
    assert code == 0
    assert shown["type"] == "demo-approval"
    assert shown["title"] == "Демонстраційний запит: Перевірка доступу"
    assert shown["state"] == "starting" and shown["state_uk"] == "запускається"
    assert shown["subject_org_unit_id"] == school.hromada_id
    assert shown["engine"] is None


def test_the_support_desk_starts_a_process_on_behalf_of_a_requester(aikom: Aikom, tmp_path: Path) -> None:
    school = _school()
    params = _params(tmp_path, {"school": school.edrpou, "new_director": _new_director()})

    code, started = aikom(
        "process", "start", "director-replacement", "--params", params, "--as", str(school.agent),
        "--on-behalf-of", str(school.admin),
    )  # fmt: skip

    assert code == 0, started
    process_id = started["process_id"]
    with unit_of_work(None) as s:
        process = s.get_one(Process, process_id)
        assert (process.requester_person_id, process.started_by_id) == (school.admin, school.agent)
        entry = s.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "director_replacement.started", AuditEntry.object_id == str(process_id)
            )
        ).one()
        admin, agent = s.get_one(Person, school.admin), s.get_one(Person, school.agent)
        assert (entry.actor_person_id, entry.actor_label) == (agent.id, agent.full_name)
        assert (entry.details["on_behalf_of"], entry.details["on_behalf_of_label"]) == (
            admin.id,
            admin.full_name,
        )
    code, shown = aikom("process", "show", str(process_id), "--as", str(school.admin))
    assert shown["requester"] == admin.full_name and shown["started_by"] == agent.full_name
    assert any(f"(від імені: {admin.full_name})" in h["action_uk"] for h in shown["history"])

    # Only the support desk acts for someone else.
    code, refused = aikom(
        "process", "start", "director-replacement", "--params", params, "--as", str(school.rayon_admin),
        "--on-behalf-of", str(school.admin),
    )  # fmt: skip
    assert code == 1 and refused["error"] == "role_not_allowed"
    assert refused["message"] == "Діяти від імені іншої особи може лише служба підтримки."


def test_list_shows_the_persons_reach_and_filters(aikom: Aikom, tmp_path: Path) -> None:
    school = _school()
    with unit_of_work(None) as s:
        admin = s.get_one(Person, school.admin)
        process = processes.create_process(
            session=s, type="demo-approval", actor=f.actor(admin), subject_org_unit_id=school.school_id
        )
        process_id = process.id

    code, page = aikom("process", "list", "--as", str(school.admin))
    assert code == 0 and process_id in [r["id"] for r in page["rows"]]
    code, page = aikom("process", "list", "--as", str(school.manager))  # another oblast's manager
    assert code == 0 and process_id not in [r["id"] for r in page["rows"]]
    code, page = aikom("process", "list", "--as", str(school.agent), "--type", "demo-approval",
                       "--state", "starting", "--oblast", str(school.oblast_id),
                       "--requester", str(school.admin), "--since", date.today().isoformat())  # fmt: skip
    assert code == 0 and [r["id"] for r in page["rows"]] == [process_id]
    assert page["rows"][0]["state_uk"] == "запускається" and page["total"] == 1
    code, page = aikom("process", "list", "--as", str(school.agent), "--state", "completed",
                       "--requester", str(school.admin))  # fmt: skip
    assert code == 0 and page["rows"] == []

    for args, message in [
        (("--type", "school-closure"), "Тип процесу: «school-closure» не існує"),
        (("--state", "paused"), "Стан: можливі starting, running"),
        (("--oblast", str(school.hromada_id)), "Область: «"),
        (("--since", "вчора"), "Розпочаті від: «вчора» — потрібна дата у форматі РРРР-ММ-ДД"),
    ]:
        code, refused = aikom("process", "list", "--as", str(school.agent), *args)
        assert code == 1 and refused["message"].startswith(message), refused
