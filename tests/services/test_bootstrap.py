"""The first national staff of a production system (`aikom admin bootstrap`): created PENDING under the
national root, active at their first КЕП sign-in; a second run creates nobody twice; a bad file
changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from aikom.models import (
    Account,
    AccountState,
    AuditEntry,
    EmailMessage,
    OrgLevel,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
)
from aikom.services.bootstrap import BootstrapRefused, bootstrap_staff
from aikom.services.persons import read_rnokpp
from aikom.services.signin import issue_challenge, sign_in
from aikom.settings import Settings
from tests import factories as f
from tests.imports.helpers import throwaway_database
from tests.signing import SigningPki, sign

INSTITUTE_EDRPOU = f.edrpou()


@pytest.fixture(scope="module")
def empty_database(database_url: str) -> Iterator[str]:
    """A fresh database of this module: no org units but the national root each test makes."""
    with throwaway_database(database_url) as url:
        yield url


@pytest.fixture
def db(empty_database: str) -> Iterator[Session]:
    """A session on the empty database, rolled back after the test."""
    engine = create_engine(empty_database)
    connection = engine.connect()
    outer = connection.begin()
    session = Session(bind=connection, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        connection.close()
        engine.dispose()


@pytest.fixture
def root(db: Session) -> OrgUnit:
    return f.org_unit(db, level=OrgLevel.NATIONAL, name="Україна")


def _staff() -> dict[str, Any]:
    return {
        "institute": {"edrpou": INSTITUTE_EDRPOU},
        "persons": [
            {
                "full_name": "Ткаченко Ірина Василівна",
                "rnokpp": f.rnokpp(),
                "email": "tkachenko@iea.gov.ua",
                "role": "institute_admin",
            },
            {
                "full_name": "Бондар Олег Миколайович",
                "rnokpp": f.rnokpp(),
                "email": "bondar@iea.gov.ua",
                "role": "institute_admin",
            },
            {
                "full_name": "Лисенко Марія Іванівна",
                "rnokpp": f.rnokpp(),
                "email": "support.aikom@iea.gov.ua",
                "role": "support_agent",
                "position": "Фахівець служби підтримки",
            },
            {
                "full_name": "Кравченко Юрій Петрович",
                "rnokpp": f.rnokpp(),
                "email": "kravchenko@iea.gov.ua",
                "role": "manager",
            },
        ],
    }


def _count(db: Session, model: type, *where: Any) -> int:
    return int(db.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_creates_the_first_staff_pending_under_the_national_root(db: Session, root: OrgUnit) -> None:
    staff = _staff()

    report = bootstrap_staff(session=db, data=staff)

    assert (report.institute_id, report.institute_edrpou, report.account_created) == (
        root.id, INSTITUTE_EDRPOU, True,
    )  # fmt: skip
    assert root.edrpou == INSTITUTE_EDRPOU
    account = db.get_one(Account, report.account_id)
    assert (account.org_unit_id, account.state) == (root.id, AccountState.PENDING)
    assert [(p.full_name, p.role, p.state) for p in report.created] == [
        ("Ткаченко Ірина Василівна", "institute_admin", "pending"),
        ("Бондар Олег Миколайович", "institute_admin", "pending"),
        ("Лисенко Марія Іванівна", "support_agent", "pending"),
        ("Кравченко Юрій Петрович", "manager", "pending"),
    ]
    for row, created in zip(staff["persons"], report.created, strict=True):
        person = db.get_one(Person, created.person_id)
        assert (person.org_unit_id, person.account_id) == (root.id, account.id)
        assert read_rnokpp(person) == row["rnokpp"]  # stored (encrypted), never reported
        assert row["rnokpp"] not in report.model_dump_json()
    assert db.get_one(Person, report.created[2].person_id).title == "Фахівець служби підтримки"
    told = db.scalars(
        select(EmailMessage).where(EmailMessage.idempotency_key.like("bootstrap-person-%"))
    ).all()
    assert sorted(m.to_address for m in told) == sorted(p["email"] for p in staff["persons"])
    assert all("КЕП" in " ".join(m.variables["lines"]) for m in told)
    assert _count(db, AuditEntry, AuditEntry.action == "person.created") == 4
    (entry,) = db.scalars(select(AuditEntry).where(AuditEntry.action == "admin.bootstrap")).all()
    assert entry.details["created"] == [p.person_id for p in report.created]


def test_a_second_run_creates_nobody_twice(db: Session, root: OrgUnit) -> None:
    staff = _staff()
    first = bootstrap_staff(session=db, data=staff)
    staff["persons"].append(
        {"full_name": "Нова Адміністраторка", "rnokpp": f.rnokpp(), "email": "new@iea.gov.ua",
         "role": "institute_admin"}
    )  # fmt: skip
    persons, mails, audit = _count(db, Person), _count(db, EmailMessage), _count(db, AuditEntry)

    second = bootstrap_staff(session=db, data=staff)
    third = bootstrap_staff(session=db, data=staff)

    assert [p.person_id for p in second.existing[:4]] == [p.person_id for p in first.created]
    assert [p.full_name for p in second.created] == ["Нова Адміністраторка"]
    assert second.account_id == first.account_id and not second.account_created
    assert third.created == [] and len(third.existing) == 5
    assert _count(db, Person) == persons + 1
    assert _count(db, EmailMessage) == mails + 1
    assert _count(db, AuditEntry) == audit + 2  # the new person and the run that created them


def test_bad_rows_are_refused_with_every_fault_named_and_nothing_written(db: Session, root: OrgUnit) -> None:
    staff = _staff()
    duplicate = staff["persons"][0]["rnokpp"]
    staff["persons"] += [
        {
            "full_name": "[Шахрай](https://evil.example)",
            "rnokpp": "1234567890",
            "email": "ні",
            "role": "director",
        },
        {"full_name": "Дублікат Особи", "rnokpp": duplicate, "email": "dup@iea.gov.ua", "role": "manager"},
        {"rnokpp": f.rnokpp(), "email": "x@iea.gov.ua", "role": "manager", "extra": 1},
    ]

    with pytest.raises(BootstrapRefused) as refused:
        bootstrap_staff(session=db, data=staff)

    message = refused.value.message_uk
    assert message.startswith("Файл не прийнято, нікого не створено:")
    assert "Рядок 5: ПІБ: лише літери" in message
    assert "РНОКПП: має неправильну контрольну цифру" in message
    assert "Електронна пошта: потрібна адреса" in message
    assert "Роль: «director» не створюється" in message
    assert "Рядок 6: РНОКПП: повторює рядок 1." in message
    assert "Рядок 7: ПІБ: обов'язкове поле; extra: невідоме поле." in message
    assert "Рядок 1" not in message.replace("повторює рядок 1", "")
    assert _count(db, Person) == 0 and _count(db, Account) == 0 and _count(db, EmailMessage) == 0
    assert root.edrpou is None


@pytest.mark.parametrize(
    ("change", "fault"),
    [
        ({"institute": {}}, "ЄДРПОУ інституту (institute.edrpou): не вказано"),
        ({"institute": {"edrpou": "12345670"}}, "контрольною цифрою"),
        ({"persons": []}, "Особи (persons): потрібен непорожній список осіб."),
        ({"people": []}, "Файл: невідомі поля people"),
    ],
)
def test_a_file_without_a_usable_institute_or_persons_is_refused(
    db: Session, root: OrgUnit, change: dict[str, Any], fault: str
) -> None:
    with pytest.raises(BootstrapRefused) as refused:
        bootstrap_staff(session=db, data={**_staff(), **change})
    assert fault in refused.value.message_uk
    assert _count(db, Person) == 0 and root.edrpou is None


def test_an_existing_card_with_another_role_is_not_changed(db: Session, root: OrgUnit) -> None:
    staff = _staff()
    bootstrap_staff(session=db, data=staff)
    staff["persons"][3]["role"] = "institute_admin"

    with pytest.raises(BootstrapRefused) as refused:
        bootstrap_staff(session=db, data=staff)

    assert "Рядок 4: РНОКПП: у «Україна» уже є картка цієї особи з роллю «Керівник / аналітик»" in (
        refused.value.message_uk
    )
    other = {"institute": {"edrpou": f.edrpou()}, "persons": staff["persons"][:1]}
    with pytest.raises(BootstrapRefused, match="інший не приймається"):
        bootstrap_staff(session=db, data=other)


def test_the_first_kep_sign_in_activates_the_card_and_the_institute_account(
    db: Session, root: OrgUnit, signing_pki: SigningPki
) -> None:
    staff = _staff()
    report = bootstrap_staff(session=db, data=staff)
    admin = staff["persons"][0]
    settings = Settings(challenge_ttl_seconds=300)
    holder = signing_pki.issue(name=admin["full_name"], edrpou=INSTITUTE_EDRPOU, rnokpp=admin["rnokpp"])
    challenge = issue_challenge(session=db, settings=settings)

    result = sign_in(
        session=db, settings=settings, trust=signing_pki.trust, nonce=challenge.nonce, client_key="test",
        signature=sign(holder, challenge.content),
    )  # fmt: skip

    assert result.ok and result.activated and result.person_id == report.created[0].person_id
    assert db.get_one(Person, result.person_id).state == PersonState.ACTIVE
    assert db.get_one(Account, report.account_id).state == AccountState.ACTIVE
    assert db.get_one(Person, report.created[1].person_id).role == PersonRole.INSTITUTE_ADMIN
    assert db.get_one(Person, report.created[1].person_id).state == PersonState.PENDING
