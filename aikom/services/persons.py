"""Persons' РНОКПП: stored encrypted (AES-256-GCM bound to the row) and found through a keyed blind index."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from pydantic_core import PydanticCustomError
from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.core.crypto import (
    Keyring,
    blind_index,
    field_context,
    normalise_rnokpp,
    open_sealed,
    seal,
    sealed_key_id,
)
from aikom.core.errors import ValidationFailed
from aikom.core.validation import check_email
from aikom.models import Account, OrgLevel, Person, PersonRole, PersonState
from aikom.services import audit
from aikom.settings import Settings, get_settings

# The admin role of each ОУО level (the institute's at the national root).
ADMIN_ROLE_OF_LEVEL: dict[OrgLevel, PersonRole] = {
    OrgLevel.NATIONAL: PersonRole.INSTITUTE_ADMIN,
    OrgLevel.OBLAST: PersonRole.OBLAST_ADMIN,
    OrgLevel.RAYON: PersonRole.RAYON_ADMIN,
    OrgLevel.HROMADA: PersonRole.HROMADA_ADMIN,
    OrgLevel.DISTRICT: PersonRole.HROMADA_ADMIN,  # a city district's body, like a hromada's
}


def keyring(settings: Settings | None = None) -> Keyring:
    """The РНОКПП keyring from configuration."""
    settings = settings or get_settings()
    return Keyring.from_hex(settings.rnokpp_key_id, settings.rnokpp_keys)


def _blind_index_key(settings: Settings) -> bytes:
    return bytes.fromhex(settings.blind_index_key)


def _context(person: Person) -> bytes:
    return field_context("person", "rnokpp", person.id)


def set_rnokpp(*, session: Session, person: Person, rnokpp: str, settings: Settings | None = None) -> None:
    """Validate and store a person's РНОКПП, encrypted and blind-indexed; the caller audits the change."""
    settings = settings or get_settings()
    value = normalise_rnokpp(rnokpp)
    if person.id is None:
        # The ciphertext is bound to the row id, so the row must exist first.
        session.add(person)
        session.flush()
    ring = keyring(settings)
    person.rnokpp_ciphertext = seal(value.encode("ascii"), context=_context(person), keyring=ring)
    person.rnokpp_key_id = ring.current_key_id
    person.rnokpp_blind_index = blind_index(value, key=_blind_index_key(settings))
    session.flush()


def read_rnokpp(person: Person, *, settings: Settings | None = None) -> str | None:
    """Decrypt a person's РНОКПП (None when not set); DecryptionFailed when it was tampered with or moved."""
    if person.rnokpp_ciphertext is None:
        return None
    return open_sealed(person.rnokpp_ciphertext, context=_context(person), keyring=keyring(settings)).decode(
        "ascii"
    )


def find_persons_by_rnokpp(
    *, session: Session, rnokpp: str, settings: Settings | None = None
) -> list[Person]:
    """Persons whose РНОКПП equals `rnokpp`, found by blind index; ValidationFailed for a malformed one."""
    settings = settings or get_settings()
    value = normalise_rnokpp(rnokpp)
    index = blind_index(value, key=_blind_index_key(settings))
    return list(session.scalars(select(Person).where(Person.rnokpp_blind_index == index).order_by(Person.id)))


def needs_reencryption(person: Person, *, settings: Settings | None = None) -> bool:
    """Whether the person's РНОКПП is sealed with a key other than the current one (key rotation)."""
    if person.rnokpp_ciphertext is None:
        return False
    return sealed_key_id(person.rnokpp_ciphertext) != keyring(settings).current_key_id


@dataclass(frozen=True)
class PersonData:
    """What is needed to create a person card."""

    full_name: str
    email: str
    rnokpp: str
    title: str | None = None
    appointment_order_no: str | None = None
    appointment_order_date: date | None = None


def validate_person_data(data: PersonData) -> PersonData:
    """Check each field; ValidationFailed names the field and the rule (in Ukrainian)."""
    name = " ".join(data.full_name.split())
    if len(name) < 3 or len(name) > 300:
        raise ValidationFailed("full_name", "ПІБ: від 3 до 300 символів.")
    try:
        email = check_email(data.email)
    except PydanticCustomError as error:  # the one email rule of every form and command
        raise ValidationFailed("email", f"Електронна пошта: {error.message()}.") from None
    normalise_rnokpp(data.rnokpp)
    if data.appointment_order_date is not None and data.appointment_order_date > date.today():
        raise ValidationFailed(
            "appointment_order_date", "Дата наказу про призначення не може бути в майбутньому."
        )
    return PersonData(
        full_name=name,
        email=email,
        rnokpp=data.rnokpp.strip(),
        title=data.title,
        appointment_order_no=(data.appointment_order_no or "").strip() or None,
        appointment_order_date=data.appointment_order_date,
    )


def create_person(
    *,
    session: Session,
    account: Account,
    role: PersonRole,
    data: PersonData,
    actor_label: str,
    actor_person_id: int | None = None,
    state: PersonState = PersonState.PENDING,
    appointed_by_id: int | None = None,
    settings: Settings | None = None,
    process_id: int | None = None,
) -> Person:
    """Create a person card acting for `account` (PENDING until the first КЕП sign-in) and audit it
    (naming the process that created it, if any)."""
    data = validate_person_data(data)
    person = Person(
        account_id=account.id,
        org_unit_id=account.org_unit_id,
        role=role,
        state=state,
        full_name=data.full_name,
        email=data.email,
        title=data.title,
        appointment_order_no=data.appointment_order_no,
        appointment_order_date=data.appointment_order_date,
        appointed_by_id=appointed_by_id,
        created_by_id=actor_person_id,
    )
    session.add(person)
    session.flush()
    set_rnokpp(session=session, person=person, rnokpp=data.rnokpp, settings=settings)
    audit.record(
        session=session,
        action="person.created",
        object_type="person",
        object_id=person.id,
        details={
            "role": role.value,
            "org_unit_id": account.org_unit_id,
            "state": state.value,
            **({"process_id": process_id} if process_id is not None else {}),
        },
        actor_person_id=actor_person_id,
        actor_label=actor_label,
    )
    return person


ROLE_TITLES_UK: dict[PersonRole, str] = {
    PersonRole.INSTITUTE_ADMIN: "Технічний адміністратор ІОА",
    PersonRole.SUPPORT_AGENT: "Служба технічної підтримки",
    PersonRole.MANAGER: "Керівник / аналітик",
    PersonRole.OBLAST_ADMIN: "Адміністратор ОУО області",
    PersonRole.RAYON_ADMIN: "Адміністратор ОУО району",
    PersonRole.HROMADA_ADMIN: "Адміністратор ОУО громади (міста)",
    PersonRole.DIRECTOR: "Керівник закладу освіти",
    PersonRole.DEPUTY: "Заступник / відповідальна особа",
    PersonRole.OIS_OPERATOR: "Оператор ОІС",
}


def role_title(role: str | PersonRole) -> str:
    """The Ukrainian name of a role."""
    try:
        return ROLE_TITLES_UK[PersonRole(role)]
    except ValueError:
        return str(role)


@dataclass(frozen=True)
class PersonView:
    """A person as shown on screen (no personal data beyond name and email)."""

    id: int
    full_name: str
    email: str
    role: PersonRole
    role_title: str
    state: PersonState
    org_unit_id: int
    org_name: str


def person_view(*, session: Session, person_id: int) -> PersonView:
    """A person with their role title and org unit name; NotFound when absent."""
    from aikom.core.errors import NotFound
    from aikom.models import OrgUnit

    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"Особу № {person_id} не знайдено.")
    unit = session.get(OrgUnit, person.org_unit_id)
    return PersonView(
        id=person.id,
        full_name=person.full_name,
        email=person.email,
        role=person.role,
        role_title=ROLE_TITLES_UK[person.role],
        state=person.state,
        org_unit_id=person.org_unit_id,
        org_name=unit.name if unit else "",
    )
