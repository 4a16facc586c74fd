"""The first staff of a production system: institute admins, support agents and managers, without demo
data (`aikom admin bootstrap FILE.json`).

Each person is created PENDING under the national root (whose account is created if missing) and
becomes ACTIVE at their first КЕП sign-in, as every card does. The whole file is checked first: a bad
row refuses the file with every fault named (row, field, rule) and nothing is written. A second run
creates nobody twice: a person already there (same РНОКПП, same role) is reported as existing.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum.ua import edrpou as edrpou_number

from aikom.core.errors import DomainError
from aikom.core.validation import Email, PersonName, Rnokpp, validation_message_uk
from aikom.mail.templates import PersonNotice
from aikom.models import Account, AccountState, OrgLevel, OrgStatus, OrgUnit, Person, PersonRole, PersonState
from aikom.services import audit
from aikom.services.outbox import enqueue
from aikom.services.persons import PersonData, create_person, find_persons_by_rnokpp, role_title
from aikom.settings import Settings, get_settings

# The national staff a fresh system needs first; everyone else is created down the cascade.
BOOTSTRAP_ROLES: tuple[PersonRole, ...] = (
    PersonRole.INSTITUTE_ADMIN,
    PersonRole.SUPPORT_AGENT,
    PersonRole.MANAGER,
)
ACTOR_LABEL = "bootstrap"
MAX_ROWS = 200


class BootstrapRefused(DomainError):
    """The bootstrap file does not fit the rules; nothing was written."""

    code = "validation_failed"

    def __init__(self, faults: list[str]) -> None:
        super().__init__("Файл не прийнято, нікого не створено: " + " ".join(faults), faults=faults)
        self.faults = faults


class _StaffRow(BaseModel):
    """One person of the file (the role is checked on its own, to name it in Ukrainian)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    full_name: PersonName
    rnokpp: Rnokpp
    email: Email
    position: str | None = Field(default=None, max_length=300)


class StaffMember(BaseModel):
    """A checked row: who to create."""

    row: int
    full_name: str
    rnokpp: str
    email: str
    role: PersonRole
    position: str | None


class BootstrappedPerson(BaseModel):
    """A person of the file as the report shows them (never their РНОКПП)."""

    row: int
    person_id: int
    full_name: str
    email: str
    role: str
    role_title: str
    state: str


class BootstrapReport(BaseModel):
    """What a run did."""

    ok: bool = True
    institute_id: int
    institute: str
    institute_edrpou: str
    account_id: int
    account_created: bool
    created: list[BootstrappedPerson]
    existing: list[BootstrappedPerson]


def _role(raw: Any) -> PersonRole | str:  # (a PersonRole is a str too: test for it first)
    """The role, or the Ukrainian fault naming the field and the choices."""
    choices = ", ".join(f"{r.value} ({role_title(r)})" for r in BOOTSTRAP_ROLES)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return f"Роль: обов'язкове поле; можливі: {choices}"
    value = str(raw).strip()
    if value not in {r.value for r in BOOTSTRAP_ROLES}:
        return f"Роль: «{value}» не створюється під час початкового налаштування; можливі: {choices}"
    return PersonRole(value)


def parse_staff(data: Any) -> tuple[str | None, list[StaffMember]]:
    """(the institute's ЄДРПОУ if given, the rows) of a bootstrap file; BootstrapRefused naming every fault.

    The file is `{"institute": {"edrpou": "…"}, "persons": [ … ]}` or just the list of persons; each person
    has full_name, rnokpp, email, role and optionally position.
    """
    faults: list[str] = []
    institute_edrpou: str | None = None
    if isinstance(data, dict):
        unknown = sorted(set(data) - {"institute", "persons"})
        if unknown:
            faults.append(f"Файл: невідомі поля {', '.join(unknown)} (можливі: institute, persons).")
        institute = data.get("institute") or {}
        if not isinstance(institute, dict):
            faults.append("Інститут (institute): потрібен об'єкт із полем edrpou.")
        else:
            raw_edrpou = institute.get("edrpou")
            institute_edrpou = str(raw_edrpou).strip() if raw_edrpou not in (None, "") else None
            if institute_edrpou is not None and not edrpou_number.is_valid(institute_edrpou):
                faults.append(
                    f"ЄДРПОУ інституту (institute.edrpou): «{institute_edrpou}» — потрібно 8 цифр "
                    "із правильною контрольною цифрою."
                )
        rows = data.get("persons")
    else:
        rows = data
    if not isinstance(rows, list) or not rows:
        faults.append("Особи (persons): потрібен непорожній список осіб.")
        raise BootstrapRefused(faults)
    if len(rows) > MAX_ROWS:
        raise BootstrapRefused([f"Особи (persons): не більше {MAX_ROWS} осіб в одному файлі."])
    members: list[StaffMember] = []
    seen: dict[str, int] = {}
    for number, raw in enumerate(rows, start=1):
        if not isinstance(raw, dict):
            faults.append(f"Рядок {number}: потрібен об'єкт із полями full_name, rnokpp, email, role.")
            continue
        parts: list[str] = []
        role = _role(raw.get("role"))
        try:
            row = _StaffRow.model_validate({k: v for k, v in raw.items() if k != "role"})
        except ValidationError as error:
            parts.append(validation_message_uk(error).rstrip("."))
            row = None
        if not isinstance(role, PersonRole):
            parts.append(role)
        if row is not None and row.rnokpp in seen:
            parts.append(f"РНОКПП: повторює рядок {seen[row.rnokpp]}")
        if parts:
            faults.append(f"Рядок {number}: {'; '.join(parts)}.")
            continue
        assert row is not None and isinstance(role, PersonRole)
        seen[row.rnokpp] = number
        members.append(
            StaffMember(
                row=number,
                full_name=row.full_name,
                rnokpp=row.rnokpp,
                email=row.email,
                role=role,
                position=row.position or None,
            )
        )
    if faults:
        raise BootstrapRefused(faults)
    return institute_edrpou, members


def national_root(session: Session) -> OrgUnit:
    """The national root of the org tree (the institute's unit)."""
    root = session.scalars(
        select(OrgUnit).where(OrgUnit.level == OrgLevel.NATIONAL).order_by(OrgUnit.id).limit(1)
    ).first()
    if root is None:
        raise DomainError(
            "У базі немає національного рівня: спершу імпортуйте кодифікатор (`aikom import katottg`)."
        )
    return root


def _institute_edrpou(session: Session, root: OrgUnit, given: str | None) -> list[str]:
    """Faults about the institute's ЄДРПОУ (its staff sign in with certificates that carry it)."""
    if root.edrpou is not None:
        if given is not None and given != root.edrpou:
            return [
                f"ЄДРПОУ інституту (institute.edrpou): у «{root.name}» уже є ЄДРПОУ {root.edrpou}; "
                "інший не приймається."
            ]
        return []
    if given is None:
        return [
            "ЄДРПОУ інституту (institute.edrpou): не вказано, а в національного рівня його немає — без нього "
            "ніхто не зможе увійти з КЕП."
        ]
    holder = session.scalars(
        select(OrgUnit).where(OrgUnit.edrpou == given, OrgUnit.status == OrgStatus.ACTIVE).limit(1)
    ).first()
    if holder is not None:
        return [f"ЄДРПОУ інституту (institute.edrpou): {given} уже належить «{holder.name}»."]
    return []


def bootstrap_staff(*, session: Session, data: Any, settings: Settings | None = None) -> BootstrapReport:
    """Create the first national staff of the file (PENDING until their first КЕП sign-in); idempotent.

    Every row is checked before anything is written; the caller's unit of work commits.
    """
    settings = settings or get_settings()
    given_edrpou, members = parse_staff(data)
    root = national_root(session)
    faults = _institute_edrpou(session, root, given_edrpou)
    account = session.scalars(select(Account).where(Account.org_unit_id == root.id)).one_or_none()
    if account is not None and account.state == AccountState.DEACTIVATED:
        faults.append(f"Обліковий запис «{root.name}» деактивовано: нових осіб до нього не додають.")
    existing: list[tuple[StaffMember, Person]] = []
    to_create: list[StaffMember] = []
    for member in members:
        found = [
            p
            for p in find_persons_by_rnokpp(session=session, rnokpp=member.rnokpp, settings=settings)
            if p.org_unit_id == root.id
        ]
        if not found:
            to_create.append(member)
        elif found[0].role == member.role:
            existing.append((member, found[0]))
        else:
            faults.append(
                f"Рядок {member.row}: РНОКПП: у «{root.name}» уже є картка цієї особи з роллю "
                f"«{role_title(found[0].role)}»; початкове налаштування ролей не змінює."
            )
    if faults:
        raise BootstrapRefused(faults)

    if root.edrpou is None:
        root.edrpou = given_edrpou
    account_created = account is None
    if account is None:
        account = Account(org_unit_id=root.id, state=AccountState.PENDING)
        session.add(account)
    session.flush()
    created: list[tuple[StaffMember, Person]] = []
    for member in to_create:
        person = create_person(
            session=session,
            account=account,
            role=member.role,
            state=PersonState.PENDING,
            data=PersonData(
                full_name=member.full_name,
                email=member.email,
                rnokpp=member.rnokpp,
                title=member.position or role_title(member.role),
            ),
            actor_label=ACTOR_LABEL,
            settings=settings,
        )
        enqueue(
            session=session,
            template="person_notice",
            to_address=person.email,
            variables=PersonNotice(
                recipient_name=person.full_name,
                subject="вашу картку в АІКОМ створено",
                lines=[
                    f"У системі АІКОМ створено вашу картку: {role_title(person.role)}, «{root.name}».",
                    "Щоб її активувати, увійдіть до панелі АІКОМ з кваліфікованим електронним підписом "
                    f"(КЕП): {settings.public_url}",
                ],
            ),
            idempotency_key=f"bootstrap-person-{person.id}-created",
        )
        created.append((member, person))
    if created or account_created:
        audit.record(
            session=session,
            action="admin.bootstrap",
            object_type="org_unit",
            object_id=root.id,
            details={
                "account_id": account.id,
                "account_created": account_created,
                "created": [p.id for _, p in created],
                "existing": [p.id for _, p in existing],
            },
            actor_label=ACTOR_LABEL,
        )
    session.flush()
    assert root.edrpou is not None
    return BootstrapReport(
        institute_id=root.id,
        institute=root.name,
        institute_edrpou=root.edrpou,
        account_id=account.id,
        account_created=account_created,
        created=[_brief(m, p) for m, p in created],
        existing=[_brief(m, p) for m, p in existing],
    )


def _brief(member: StaffMember, person: Person) -> BootstrappedPerson:
    return BootstrappedPerson(
        row=member.row,
        person_id=person.id,
        full_name=person.full_name,
        email=person.email,
        role=person.role.value,
        role_title=role_title(person.role),
        state=person.state.value,
    )
