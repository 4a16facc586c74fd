"""Demo mode: a demo PKI and demo persons with КЕП certificates, so every process can be tried locally.

Never used in production configuration (`Settings.demo_mode` must be on).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased
from stdnum.ua import edrpou as edrpou_number
from stdnum.ua import rntrc as rnokpp_number

from aikom.core import pki
from aikom.core.errors import DomainError
from aikom.models import Account, AccountState, OrgLevel, OrgStatus, OrgUnit, Person, PersonRole, PersonState
from aikom.services.keys import issue_account_keys
from aikom.services.persons import PersonData, create_person, find_persons_by_rnokpp
from aikom.settings import Settings

INSTITUTE_EDRPOU = "38621185"


class DemoModeOff(DomainError):
    """Demo data was asked for outside demo mode."""

    code = "demo_mode_off"

    def __init__(self) -> None:
        super().__init__(
            "Демонстраційні дані доступні лише в демонстраційному режимі (AIKOM_DEMO_MODE=true)."
        )


@dataclass(frozen=True)
class DemoPerson:
    """A demo person as the dashboard's demo sign-in lists it."""

    person_id: int
    key: str
    full_name: str
    role: str
    org_unit_id: int
    org_name: str
    edrpou: str
    key_file: str
    cert_file: str


def _valid_code(seed: int, length: int, module: object) -> str:
    """The first code at or after `seed` whose check digit is right."""
    n = seed
    while True:
        code = str(n).zfill(length)
        if module.is_valid(code):  # type: ignore[attr-defined]
            return code
        n += 1


def _free_edrpou(session: Session, seed: int) -> str:
    """The first valid ЄДРПОУ at or after `seed` that no unit uses (demo units only)."""
    with session.no_autoflush:
        taken = set(session.scalars(select(OrgUnit.edrpou).where(OrgUnit.edrpou.is_not(None))))
    n = seed
    while True:
        code = _valid_code(n, 8, edrpou_number)
        if code not in taken:
            return code
        n = int(code) + 1


def _demo_school(session: Session) -> OrgUnit:
    """An active school with ЄДРПОУ in the hromada that has the most such schools (deterministic)."""
    school = aliased(OrgUnit)
    hromada_id = session.scalar(
        select(school.managing_body_id)
        .join(OrgUnit, OrgUnit.id == school.managing_body_id)
        .where(
            school.level == OrgLevel.SCHOOL,
            school.status == OrgStatus.ACTIVE,
            school.edrpou.is_not(None),
            OrgUnit.level == OrgLevel.HROMADA,
        )
        .group_by(school.managing_body_id)
        .order_by(func.count().desc(), school.managing_body_id)
        .limit(1)
    )
    if hromada_id is None:
        raise DomainError("Для демонстраційних даних потрібна громада зі школами: спершу імпортуйте реєстри.")
    return session.scalars(
        select(OrgUnit)
        .where(
            OrgUnit.managing_body_id == hromada_id,
            OrgUnit.level == OrgLevel.SCHOOL,
            OrgUnit.status == OrgStatus.ACTIVE,
            OrgUnit.edrpou.is_not(None),
        )
        .order_by(OrgUnit.id)
        .limit(1)
    ).one()


def _account(session: Session, unit: OrgUnit) -> Account:
    account = session.scalars(select(Account).where(Account.org_unit_id == unit.id)).one_or_none()
    if account is None:
        account = Account(org_unit_id=unit.id, state=AccountState.ACTIVE)
        session.add(account)
        session.flush()
        issue_account_keys(session=session, account=account, actor_label="demo")
    return account


def seed_demo(*, session: Session, settings: Settings, school_id: int | None = None) -> list[DemoPerson]:
    """Create (once) the demo PKI and demo persons; return them. Idempotent.

    The demo school is `school_id`, else the first school of the hromada with the most schools.
    """
    if not settings.demo_mode:
        raise DemoModeOff()
    pki_dir = settings.pki_dir
    if not (pki_dir / "root" / "cert.pem").exists():
        pki.init(pki_dir)
    else:
        pki.refresh_crls(pki_dir)  # demo CRLs are short-lived: a fresh start must not fail closed on them

    school = session.get_one(OrgUnit, school_id) if school_id is not None else _demo_school(session)
    hromada = session.get(OrgUnit, school.managing_body_id)
    assert hromada is not None
    rayon = session.get(OrgUnit, hromada.parent_id) if hromada.parent_id else None
    oblast = session.get(OrgUnit, school.oblast_id) if school.oblast_id else None
    national = session.scalars(
        select(OrgUnit).where(OrgUnit.level == OrgLevel.NATIONAL).order_by(OrgUnit.id).limit(1)
    ).one()
    if national.edrpou is None:
        national.edrpou = _free_edrpou(session, int(INSTITUTE_EDRPOU))
        national.short_name = "ДНУ «Інститут освітньої аналітики»"
    for seed, unit in ((44000000, oblast), (44100000, rayon), (44200000, hromada)):
        if unit is not None and unit.edrpou is None:
            unit.edrpou = _free_edrpou(session, seed)
    ois_company = _demo_ois_company(session, national)
    session.flush()

    plan: list[tuple[str, str, PersonRole, OrgUnit | None, str]] = [
        (
            "ioa-admin-1",
            "Ткаченко Ірина Василівна",
            PersonRole.INSTITUTE_ADMIN,
            national,
            "Технічний адміністратор",
        ),
        (
            "ioa-admin-2",
            "Бондар Олег Миколайович",
            PersonRole.INSTITUTE_ADMIN,
            national,
            "Технічний адміністратор",
        ),
        (
            "support",
            "Лисенко Марія Іванівна",
            PersonRole.SUPPORT_AGENT,
            national,
            "Фахівець служби підтримки",
        ),
        ("manager", "Кравченко Юрій Петрович", PersonRole.MANAGER, national, "Аналітик"),
        (
            "oblast-admin",
            "Шевчук Наталія Олегівна",
            PersonRole.OBLAST_ADMIN,
            oblast,
            "Адміністратор ОУО області",
        ),
        ("rayon-admin", "Мороз Василь Степанович", PersonRole.RAYON_ADMIN, rayon, "Адміністратор ОУО району"),
        (
            "hromada-admin-1",
            "Поліщук Світлана Андріївна",
            PersonRole.HROMADA_ADMIN,
            hromada,
            "Адміністратор ОУО громади",
        ),
        (
            "hromada-admin-2",
            "Савченко Петро Іванович",
            PersonRole.HROMADA_ADMIN,
            hromada,
            "Адміністратор ОУО громади",
        ),
        ("director", "Коваленко Оксана Миколаївна", PersonRole.DIRECTOR, school, "Директор"),
        ("deputy", "Руденко Андрій Васильович", PersonRole.DEPUTY, school, "Заступник директора"),
        (
            "ois-operator",
            "Марченко Віктор Олегович",
            PersonRole.OIS_OPERATOR,
            ois_company,
            "Директор з розвитку",
        ),
    ]
    result: list[DemoPerson] = []
    director: Person | None = None
    for index, (key, name, role, unit, title) in enumerate(plan):
        if unit is None:
            continue
        rnokpp = _valid_code(3000000000 + index * 1000, 10, rnokpp_number)
        existing = [
            p
            for p in find_persons_by_rnokpp(session=session, rnokpp=rnokpp, settings=settings)
            if p.org_unit_id == unit.id
        ]
        if existing:
            person = existing[0]
        else:
            person = create_person(
                session=session,
                account=_account(session, unit),
                role=role,
                state=PersonState.ACTIVE,
                data=PersonData(full_name=name, email=f"{key}@demo.aikom.local", rnokpp=rnokpp, title=title),
                actor_label="demo",
                appointed_by_id=director.id if role == PersonRole.DEPUTY and director else None,
            )
        if role == PersonRole.DIRECTOR:
            director = person
        result.append(_demo_key(settings, key, person, unit, rnokpp=rnokpp, title=title))
        if role == PersonRole.OIS_OPERATOR:
            from aikom.demo.ois import seed_connected_ois

            seed_connected_ois(
                session=session, settings=settings, company=unit, operator=person, operator_key=key
            )
    _save(settings, result)
    return result


DEMO_OIS_COMPANY = "ТОВ «Демо Е-Журнал»"
DEMO_NEWCOMER_KEY = "ois-newcomer"  # an employee of a company not registered yet: the registration path


def _demo_ois_company(session: Session, national: OrgUnit) -> OrgUnit:
    """The demo ОІС operator's company (level ois_company under the national unit), created once."""
    company = session.scalars(
        select(OrgUnit).where(OrgUnit.level == OrgLevel.OIS_COMPANY, OrgUnit.name == DEMO_OIS_COMPANY)
    ).first()
    if company is None:
        company = OrgUnit(
            level=OrgLevel.OIS_COMPANY,
            name=DEMO_OIS_COMPANY,
            status=OrgStatus.ACTIVE,
            parent_id=national.id,
            edrpou=_free_edrpou(session, 45000000),
        )
        session.add(company)
        session.flush()
        # Its account holds no keys: an operator uses the schools' API keys it is granted.
        session.add(Account(org_unit_id=company.id, state=AccountState.ACTIVE))
        session.flush()
    return company


def demo_newcomer_key(*, session: Session, settings: Settings) -> str:
    """A demo КЕП of an employee of an ОІС company not registered in АІКОМ yet (issued once): what the
    registration page signs with in demo mode. Its key name."""
    if not settings.demo_mode:
        raise DemoModeOff()
    prefix = settings.pki_dir / "persons" / DEMO_NEWCOMER_KEY
    if not Path(f"{prefix}.key.pem").exists():
        prefix.parent.mkdir(parents=True, exist_ok=True)
        pki.issue_person(
            settings.pki_dir,
            name="Гнатюк Софія Романівна",
            edrpou=_free_edrpou(session, 45500000),
            rnokpp=_valid_code(3100000000, 10, rnokpp_number),
            title="Керівник проєкту",
            organization="ТОВ «Новий Щоденник»",
        ).write(prefix)
    return DEMO_NEWCOMER_KEY


def remember_newcomer(*, session: Session, settings: Settings, person_id: int) -> DemoPerson:
    """The newcomer registered (its operator card `person_id`): listed among the demo persons with its demo
    key, so the demo sign-in and demo signing know it."""
    if not settings.demo_mode:
        raise DemoModeOff()
    person = session.get_one(Person, person_id)
    unit = session.get_one(OrgUnit, person.org_unit_id)
    prefix = settings.pki_dir / "persons" / DEMO_NEWCOMER_KEY
    demo = DemoPerson(
        person_id=person.id,
        key=DEMO_NEWCOMER_KEY,
        full_name=person.full_name,
        role=person.role.value,
        org_unit_id=unit.id,
        org_name=unit.name,
        edrpou=unit.edrpou or "",
        key_file=f"{prefix}.key.pem",
        cert_file=f"{prefix}.cert.pem",
    )
    _save(settings, [*(p for p in load_demo_persons(settings) if p.key != DEMO_NEWCOMER_KEY), demo])
    return demo


def _demo_key(
    settings: Settings,
    key: str,
    person: Person,
    unit: OrgUnit,
    *,
    rnokpp: str,
    title: str,
    edrpou: str | None = None,
) -> DemoPerson:
    """The person's demo КЕП (issued once into the demo PKI) as the demo sign-in lists it."""
    prefix = settings.pki_dir / "persons" / key
    prefix.parent.mkdir(parents=True, exist_ok=True)
    key_file, cert_file = Path(f"{prefix}.key.pem"), Path(f"{prefix}.cert.pem")
    edrpou = edrpou or unit.edrpou
    if edrpou is None:
        raise DomainError("Демо-КЕП неможливий: в організації особи немає ЄДРПОУ.")
    if not key_file.exists():
        pki.issue_person(
            settings.pki_dir,
            name=person.full_name[:64],
            edrpou=edrpou,
            rnokpp=rnokpp,
            title=title,
            organization=(unit.short_name or unit.name)[:64],
        ).write(prefix)
    return DemoPerson(
        person_id=person.id,
        key=key,
        full_name=person.full_name,
        role=person.role.value,
        org_unit_id=unit.id,
        org_name=unit.name,
        edrpou=edrpou,
        key_file=str(key_file),
        cert_file=str(cert_file),
    )


def _save(settings: Settings, persons: list[DemoPerson]) -> None:
    (settings.pki_dir / "demo_persons.json").write_text(
        json.dumps([asdict(p) for p in persons], ensure_ascii=False, indent=2), encoding="utf-8"
    )


def persons_awaiting_first_signin(*, session: Session, settings: Settings) -> list[Person]:
    """PENDING persons that have no demo КЕП yet (e.g. a new director created by a process)."""
    if not settings.demo_mode:
        return []
    known = {p.person_id for p in load_demo_persons(settings)}
    pending = session.scalars(
        select(Person)
        .where(Person.state == PersonState.PENDING, Person.rnokpp_ciphertext.is_not(None))
        .order_by(Person.id.desc())
        .limit(50)
    )
    return [p for p in pending if p.id not in known]


def issue_demo_key(*, session: Session, settings: Settings, person_id: int) -> DemoPerson:
    """Give a person a demo КЕП (their РНОКПП, their unit's ЄДРПОУ) so they can sign in (demo mode only)."""
    if not settings.demo_mode:
        raise DemoModeOff()
    from aikom.services.org import effective_edrpou
    from aikom.services.persons import read_rnokpp

    person = session.get_one(Person, person_id)
    unit = session.get_one(OrgUnit, person.org_unit_id)
    rnokpp = read_rnokpp(person, settings=settings)
    if rnokpp is None:
        raise DomainError("Демо-КЕП неможливий: у картці особи немає РНОКПП.")
    demo = _demo_key(
        settings,
        f"person-{person.id}",
        person,
        unit,
        rnokpp=rnokpp,
        title=person.title or "Працівник",
        edrpou=effective_edrpou(session, unit),
    )
    persons = [p for p in load_demo_persons(settings) if p.person_id != person.id]
    _save(settings, [*persons, demo])
    return demo


def load_demo_persons(settings: Settings) -> list[DemoPerson]:
    """The demo persons written by `seed_demo` (empty outside demo mode or before seeding)."""
    path = settings.pki_dir / "demo_persons.json"
    if not settings.demo_mode or not path.exists():
        return []
    return [DemoPerson(**item) for item in json.loads(path.read_text(encoding="utf-8"))]


def demo_sign(settings: Settings, person_key: str, content: bytes) -> bytes:
    """Sign `content` with a demo person's key, as their signing app would (demo mode only)."""
    if not settings.demo_mode:
        raise DemoModeOff()
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    prefix = settings.pki_dir / "persons" / person_key
    key = serialization.load_pem_private_key(Path(f"{prefix}.key.pem").read_bytes(), password=None)
    cert = x509.load_pem_x509_certificate(Path(f"{prefix}.cert.pem").read_bytes())
    return pki.sign_detached(key, cert, content)  # type: ignore[arg-type]


def demo_key_of(settings: Settings, person_id: int) -> str:
    """The demo key name of a person (demo mode only); DomainError when the person has no demo key."""
    for person in load_demo_persons(settings):
        if person.person_id == person_id:
            return person.key
    raise DomainError("Для цієї особи немає демонстраційного ключа: підпишіть рішення власним КЕП.")
