"""`aikom persons kep-expiring` per scope and `aikom kep check-cert`."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from sqlalchemy import update

from aikom.core import pki
from aikom.db import unit_of_work
from aikom.models import Person, PersonRole, PersonState
from tests import factories as f
from tests.cli.conftest import Aikom
from tests.signing import SigningPki

R = PersonRole


@dataclass
class World:
    institute_admin: int
    hromada_admin: int
    rayon_admin_email: str
    director: int
    deputy: int
    rayon_admin: int
    school_edrpou: str


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    """A committed cascade whose staff's КЕП end at various dates; its persons retired afterwards."""
    now = datetime.now(UTC)
    with unit_of_work(database_url) as s:
        units = f.cascade(s, with_edrpou=True)
        accounts = {level: f.account(s, unit) for level, unit in units.items()}

        def person(level: str, role: PersonRole, days: float | None) -> Person:
            p = f.person(s, accounts[level], role=role)
            if days is not None:
                p.kep_not_after = now + timedelta(days=days)
                p.kep_issuer, p.kep_serial = "АІКОМ Демо КНЕДП", f"S{p.id}"
            return p

        made = World(
            institute_admin=person("national", R.INSTITUTE_ADMIN, None).id,
            hromada_admin=person("hromada", R.HROMADA_ADMIN, 12).id,
            rayon_admin_email="",
            director=person("school", R.DIRECTOR, 20).id,
            deputy=person("school", R.DEPUTY, -2).id,
            rayon_admin=person("rayon", R.RAYON_ADMIN, 3).id,
            school_edrpou=str(units["school"].edrpou),
        )
        made.rayon_admin_email = s.get_one(Person, made.rayon_admin).email
    yield made
    ids = [made.institute_admin, made.hromada_admin, made.director, made.deputy, made.rayon_admin]
    with unit_of_work(database_url) as s:
        s.execute(update(Person).where(Person.id.in_(ids)).values(state=PersonState.INACTIVE))


def _ids(payload: dict[str, object]) -> list[int]:
    return [int(p["person_id"]) for p in payload["persons"]]  # type: ignore[attr-defined, index]


def test_kep_expiring_per_scope(aikom: Aikom, world: World) -> None:
    code, national = aikom("persons", "kep-expiring", "--within", "30", "--as", str(world.institute_admin))
    assert code == 0
    assert _ids(national) == [world.deputy, world.rayon_admin, world.hromada_admin, world.director]
    assert national["expired"] == 1 and national["within_days"] == 30
    (oblast,) = national["per_oblast"]
    assert (oblast["expiring"], oblast["expired"]) == (3, 1)

    code, hromada = aikom("persons", "kep-expiring", "--as", str(world.hromada_admin))
    assert code == 0
    assert _ids(hromada) == [world.deputy, world.hromada_admin, world.director]  # not the rayon above
    assert all("rnokpp" not in row for row in hromada["persons"])

    code, rayon = aikom("persons", "kep-expiring", "--within", "7", "--as", world.rayon_admin_email)
    assert code == 0 and _ids(rayon) == [world.deputy, world.rayon_admin]

    code, school = aikom(
        "persons", "kep-expiring", "--as", str(world.director), "--unit", world.school_edrpou
    )
    assert code == 0 and _ids(school) == [world.deputy, world.director]


def test_kep_expiring_refusals(aikom: Aikom, world: World) -> None:
    code, refused = aikom("persons", "kep-expiring", "--as", str(world.deputy))
    assert code == 1 and refused["error"] == "role_not_allowed"
    code, refused = aikom("persons", "kep-expiring", "--as", str(world.director), "--unit", "id:1")
    assert code == 1 and refused["error"] in ("not_in_scope", "org_unit_not_found")
    code, refused = aikom("persons", "kep-expiring", "--within", "999", "--as", str(world.director))
    assert code == 1 and "366" in refused["message"]
    code, refused = aikom("persons", "kep-expiring")
    assert code == 1 and "--as" in refused["message"]


def test_kep_check_cert(aikom: Aikom, signing_pki: SigningPki, tmp_path: Path) -> None:
    rnokpp = f.rnokpp()
    holder = signing_pki.issue(name="Коваль Олена", edrpou=f.edrpou(), rnokpp=rnokpp)
    good = tmp_path / "good.cer"
    good.write_bytes(holder.certificate.public_bytes(serialization.Encoding.DER))
    code, report = aikom("kep", "check-cert", str(good))
    assert code == 0 and report["accepted"] is True
    assert report["rnokpp_masked"] == rnokpp[:2] + "******" + rnokpp[-2:]
    assert rnokpp not in str(report)

    now = datetime.now(UTC)
    old = pki.issue_person(
        signing_pki.directory, name="Стара Особа", edrpou=f.edrpou(), rnokpp=f.rnokpp(), title="Директор",
        not_before=now - timedelta(days=500), not_after=now - timedelta(days=1),
    )  # fmt: skip
    expired = tmp_path / "old.pem"
    expired.write_bytes(old.certificate.public_bytes(serialization.Encoding.PEM))
    code, report = aikom("kep", "check-cert", str(expired))
    assert code == 1 and report["accepted"] is False and "expired" in report["reason_codes"]

    junk = tmp_path / "junk.cer"
    junk.write_bytes(b"not a certificate")
    code, report = aikom("kep", "check-cert", str(junk))
    assert code == 1 and report["reason_codes"] == ["malformed"]
