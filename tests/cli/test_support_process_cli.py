"""`aikom support open --on-behalf-of` and `aikom support start-process`: the desk files for a person and
starts a request's process from it, on the requester's behalf; `show` tells the process's state."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from aikom.db import unit_of_work
from aikom.models import OrgUnit, PersonRole, Process
from tests import factories as f
from tests.cli.conftest import Aikom

NAME = "Ліцей № 12 Зеленодольської міської ради"


def _people() -> dict[str, int]:
    with unit_of_work(None) as s:
        units = f.cascade(s, with_edrpou=True)
        ioa = f.account(s, units["national"])
        return {
            "agent": f.person(s, ioa, role=PersonRole.SUPPORT_AGENT).id,
            "admin": f.person(
                s,
                f.account(s, units["hromada"]),
                role=PersonRole.HROMADA_ADMIN,
                email=f"admin-{uuid.uuid4().hex[:8]}@example.org",
            ).id,
            "director": f.person(s, f.account(s, units["school"]), role=PersonRole.DIRECTOR).id,
        }


def _free_code() -> str:
    with unit_of_work(None) as s:
        while True:
            code = f.edrpou()
            if s.scalars(select(OrgUnit.id).where(OrgUnit.edrpou == code)).first() is None:
                return code


def test_the_desk_files_for_a_person_and_starts_the_process_from_the_request(aikom: Aikom) -> None:
    people, code = _people(), _free_code()
    agent, admin = str(people["agent"]), str(people["admin"])
    text = f"Код ЄДРПОУ: {code}\nНазва: {NAME}\nНаселений пункт: м. Зеленодольськ"
    exit_code, filed = aikom(
        "support", "open", "--as", agent, "--on-behalf-of", admin, "--type", "new_school",
        "--subject", "Новий заклад", "--text", text,
    )  # fmt: skip
    assert exit_code == 0, filed
    request_id = filed["request_id"]
    assert (filed["requester_person_id"], filed["filed_by_id"]) == (people["admin"], people["agent"])

    exit_code, shown = aikom("support", "show", str(request_id), "--as", agent)
    assert shown["filed_by"] is not None and shown["process"] is None
    assert shown["process_to_start"] == "Новий заклад освіти (через службу підтримки)"

    exit_code, started = aikom(
        "support", "start-process", str(request_id), "--as", agent, "--set", "edebo_id=150012"
    )
    assert exit_code == 0, started
    assert started["request_id"] == request_id and "збережено" in started["message"]  # engine unreachable
    with unit_of_work(None) as s:
        process = s.get_one(Process, started["process_id"])
        assert (process.requester_person_id, process.started_by_id) == (people["admin"], people["agent"])
        assert (process.parameters["edrpou"], process.parameters["name"]) == (code, NAME)
        assert process.parameters["edebo_id"] == "150012"

    # The request tells the process's state, to the desk and to the requester.
    for who in (agent, admin):
        exit_code, shown = aikom("support", "show", str(request_id), "--as", who)
        assert exit_code == 0 and shown["process"]["id"] == started["process_id"], who
        assert shown["process"]["state"] == "starting" and shown["process"]["live"]
        assert shown["process"]["path"] == f"/process?id={started['process_id']}"
    assert shown["process_to_start"] is None

    exit_code, refused = aikom("support", "start-process", str(request_id), "--as", agent)
    assert exit_code == 1 and f"уже триває процес №{started['process_id']}" in refused["message"]


def test_refusals_are_messages_naming_the_rule(aikom: Aikom) -> None:
    people = _people()
    agent, admin = str(people["agent"]), str(people["admin"])
    exit_code, refused = aikom(
        "support", "open", "--as", admin, "--on-behalf-of", str(people["director"]),
        "--subject", "Чуже", "--text", "Текст",
    )  # fmt: skip
    assert exit_code == 1 and "лише служба підтримки" in refused["message"]
    exit_code, filed = aikom(
        "support", "open", "--as", admin, "--type", "new_school", "--subject", "Школа",
        "--text", "ЄДРПОУ 26338855",
    )  # fmt: skip
    assert exit_code == 0 and filed["filed_by_id"] is None  # one's own request
    request_id = str(filed["request_id"])
    exit_code, refused = aikom("support", "start-process", request_id, "--as", admin)
    assert exit_code == 1 and "лише служба підтримки" in refused["message"]
    exit_code, refused = aikom(
        "support", "start-process", request_id, "--as", agent,
        "--set", "name=Школа", "--set", "settlement=с. Х",
    )  # fmt: skip
    assert exit_code == 1 and "Код ЄДРПОУ: «26338855» має неправильну контрольну цифру" in refused["message"]
    exit_code, refused = aikom("support", "start-process", request_id, "--as", agent)
    # What the request does not carry is named, field by field.
    missing = "Назва: обов'язкове поле; Населений пункт: обов'язкове поле."
    assert (exit_code, refused["message"]) == (1, missing)
    exit_code, refused = aikom(
        "support", "open", "--as", admin, "--type", "maybe", "--subject", "x", "--text", "y"
    )
    assert exit_code == 1 and "Тип: «maybe» — допустимо:" in refused["message"]
