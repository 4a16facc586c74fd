"""`aikom org search|card|move`: the directory from the command line, as each person may see it."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from aikom.db import unit_of_work
from aikom.models import AccessKey, AuditEntry, KeyKind, OrgLevel, OrgUnit, PersonRole
from tests import factories as f
from tests.cli.conftest import Aikom


@dataclass
class Tree:
    tag: str
    school_edrpou: str
    school_id: int
    hromada_katottg: str
    hromada_id: int
    unplaced_edrpou: str
    unplaced_id: int
    oblast_katottg: str
    institute_admin: int
    hromada_admin: str  # by email
    director: int
    director_email: str
    rnokpp: str
    public_id: str


def _katottg() -> str:
    # UA99…: no real unit's code starts so (a random real prefix once collided with the rollout test's
    # oblast in the shared test database).
    return "UA99" + "".join(random.choices("0123456789", k=15))


@pytest.fixture
def tree(aikom: Aikom) -> Tree:
    """A committed cascade with a school (director, key) and a school waiting for placement at the rayon."""
    tag = uuid.uuid4().hex[:8]
    with unit_of_work(None) as s:
        u = f.cascade(s, with_edrpou=True)
        u["oblast"].katottg, u["hromada"].katottg = _katottg(), _katottg()
        u["oblast"].oblast_id = u["oblast"].id
        u["school"].name = f"Ліцей «Дивосвіт» {tag}"
        unplaced = f.org_unit(
            s,
            level=OrgLevel.SCHOOL,
            parent=u["rayon"],
            oblast_id=u["oblast"].id,
            managing_body_id=u["rayon"].id,
            name=f"Гімназія без громади {tag}",
            edrpou=f.edrpou(),
            needs_placement=True,
            placement_note="Громаду за КОАТУУ не визначено",
        )
        national = f.account(s, u["national"])
        admin = f.person(s, national, role=PersonRole.INSTITUTE_ADMIN)
        hromada_admin = f.person(s, f.account(s, u["hromada"]), role=PersonRole.HROMADA_ADMIN)
        school_account = f.account(s, u["school"])
        rnokpp = f.rnokpp()
        director = f.person(
            s, school_account, role=PersonRole.DIRECTOR, rnokpp=rnokpp, name=f"Директор {tag}"
        )
        director.kep_not_after = datetime.now(UTC) + timedelta(days=5)
        public_id = uuid.uuid4().hex.upper()[:26]
        s.add(
            AccessKey(
                account_id=school_account.id,
                kind=KeyKind.API,
                public_id=public_id,
                secret_hash=bytes(32),
                pepper_id="p",
            )
        )
        s.flush()
        assert u["school"].edrpou and unplaced.edrpou and u["hromada"].katottg and u["oblast"].katottg
        return Tree(
            tag=tag,
            school_edrpou=u["school"].edrpou,
            school_id=u["school"].id,
            hromada_katottg=u["hromada"].katottg,
            hromada_id=u["hromada"].id,
            unplaced_edrpou=unplaced.edrpou,
            unplaced_id=unplaced.id,
            oblast_katottg=u["oblast"].katottg,
            institute_admin=admin.id,
            hromada_admin=hromada_admin.email,
            director=director.id,
            director_email=director.email,
            rnokpp=rnokpp,
            public_id=public_id,
        )


def test_search_by_code_and_by_name_with_filters(aikom: Aikom, tree: Tree) -> None:
    code, found = aikom("org", "search", tree.school_edrpou, "--as", str(tree.institute_admin))
    assert code == 0, found
    assert found["rows"][0]["id"] == tree.school_id and found["rows"][0]["matched_by"] == "edrpou"

    code, found = aikom(
        "org", "search", f"гімназія {tree.tag}", "--level", "school", "--oblast", tree.oblast_katottg,
        "--needs-placement", "--as", str(tree.institute_admin),
    )  # fmt: skip
    assert code == 0, found
    assert [r["id"] for r in found["rows"]] == [tree.unplaced_id]
    assert found["rows"][0]["needs_placement"] is True


def test_a_search_names_its_refusals_in_ukrainian(aikom: Aikom, tree: Tree) -> None:
    code, refused = aikom("org", "search", tree.tag, "--level", "village", "--as", str(tree.institute_admin))
    assert code == 1 and "Рівень: «village»" in refused["message"]
    code, refused = aikom("org", "search", "x", "--as", str(tree.institute_admin))
    assert code == 1 and refused["error"] == "search_query_too_short"
    code, refused = aikom("org", "search", tree.tag, "--as", "nobody@example.org")
    assert code == 1 and "nobody@example.org" in refused["message"]


def test_a_director_searches_and_reads_only_their_own_school(aikom: Aikom, tree: Tree) -> None:
    code, found = aikom("org", "search", tree.tag, "--as", tree.director_email)
    assert code == 0 and [r["id"] for r in found["rows"]] == [tree.school_id]
    code, refused = aikom("org", "card", tree.unplaced_edrpou, "--as", tree.director_email)
    assert code == 1 and refused["error"] == "unit_not_in_scope"


def test_the_card_shows_persons_keys_and_kep_but_no_secret(aikom: Aikom, tree: Tree) -> None:
    code, card = aikom("org", "card", tree.school_edrpou, "--as", str(tree.institute_admin))
    assert code == 0, card
    assert card["visibility"] == "full" and card["account"]["state"] == "active"
    assert [p["full_name"] for p in card["persons"]] == [f"Директор {tree.tag}"]
    assert [(k["kind"], k["state"]) for k in card["keys"]] == [("api", "active")]
    assert [w["full_name"] for w in card["kep_expiring"]] == [f"Директор {tree.tag}"]
    text = str(card)
    assert tree.rnokpp not in text and tree.public_id not in text and "secret" not in text


def test_the_card_reads_for_people_too(aikom: Aikom, tree: Tree) -> None:
    from aikom.cli.main import app

    result = CliRunner().invoke(app, ["org", "card", tree.school_edrpou, "--as", str(tree.institute_admin)])
    assert result.exit_code == 0, result.output
    assert f"Ліцей «Дивосвіт» {tree.tag}" in result.stdout
    assert "Обліковий запис: активний" in result.stdout
    assert "КЕП: Директор" in result.stdout and "спливає" in result.stdout
    assert tree.public_id not in result.stdout


def test_the_hromada_admin_moves_a_waiting_school(aikom: Aikom, tree: Tree) -> None:
    code, refused = aikom(
        "org", "move", tree.unplaced_edrpou, tree.hromada_katottg, "--as", tree.director_email
    )
    assert code == 1 and refused["error"] == "move_role_not_allowed"

    code, moved = aikom(
        "org", "move", tree.unplaced_edrpou, tree.hromada_katottg, "--as", tree.hromada_admin,
        "--note", "Уточнено за листом громади",
    )  # fmt: skip
    assert code == 0, moved
    assert moved["after"]["parent_id"] == tree.hromada_id and moved["note"] == "Уточнено за листом громади"
    assert "розміщено під" in moved["message_uk"]
    with unit_of_work(None) as s:
        unit = s.get_one(OrgUnit, tree.unplaced_id)
        assert unit.parent_id == tree.hromada_id and not unit.needs_placement
        entry = s.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "org_unit.placed", AuditEntry.object_id == str(tree.unplaced_id)
            )
        ).one()
        assert entry.details["after"]["managing_body_id"] == tree.hromada_id

    code, again = aikom("org", "move", tree.unplaced_edrpou, tree.hromada_katottg, "--as", tree.hromada_admin)
    assert code == 1 and again["error"] == "school_already_placed"


def test_org_show_still_works(aikom: Aikom, tree: Tree) -> None:
    code, shown = aikom("org", "show", tree.school_edrpou)
    assert code == 0 and shown["unit"]["id"] == tree.school_id


def test_search_reads_for_people_too(aikom: Aikom, tree: Tree) -> None:
    from aikom.cli.main import app

    result = CliRunner().invoke(app, ["org", "search", tree.tag, "--as", tree.hromada_admin])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "Знайдено: 2"
    school = next(line for line in lines if f"Ліцей «Дивосвіт» {tree.tag}" in line)
    assert school.startswith(f"№{tree.school_id} ") and f"ЄДРПОУ {tree.school_edrpou}" in school
    assert "[лише назва й коди]" not in school  # the admin's own hromada
    waiting = next(line for line in lines if f"Гімназія без громади {tree.tag}" in line)
    assert "ПОТРЕБУЄ РОЗМІЩЕННЯ" in waiting and "[лише назва й коди]" in waiting
