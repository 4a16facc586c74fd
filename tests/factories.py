"""Small factory functions for test data."""

from __future__ import annotations

import itertools
import random
from datetime import datetime

from sqlalchemy.orm import Session
from stdnum.ua import edrpou as edrpou_number
from stdnum.ua import rntrc as rnokpp_number

from aikom.core.actor import Actor
from aikom.models import (
    Account,
    AccountState,
    ApprovalTask,
    Ois,
    OrgLevel,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
    Process,
)
from aikom.services.persons import set_rnokpp

_seq = itertools.count(1)
# Committed test rows share one database per session: codes come from a random start, never repeat.
_edrpou_seq = itertools.count(random.randrange(9_000_000, 9_900_000))
_rnokpp_seq = itertools.count(random.randrange(390_000_000, 399_000_000))


def edrpou() -> str:
    """A fresh ЄДРПОУ with a valid check digit."""
    prefix = str(next(_edrpou_seq))
    return prefix + edrpou_number.calc_check_digit(prefix)


def rnokpp() -> str:
    """A fresh РНОКПП with a valid check digit."""
    prefix = str(next(_rnokpp_seq))
    return prefix + rnokpp_number.calc_check_digit(prefix)


def org_unit(
    session: Session,
    *,
    level: OrgLevel,
    parent: OrgUnit | None = None,
    name: str | None = None,
    **fields: object,
) -> OrgUnit:
    """An org unit under `parent` (the national root when level is national)."""
    n = next(_seq)
    unit = OrgUnit(
        level=level,
        name=name or f"{level.value} {n}",
        parent_id=parent.id if parent else None,
        oblast_id=fields.pop("oblast_id", None),
        **fields,
    )
    session.add(unit)
    session.flush()
    return unit


def cascade(session: Session, *, with_edrpou: bool = False) -> dict[str, OrgUnit]:
    """national → oblast → rayon → hromada → school, each one level below the other.

    `with_edrpou`: every unit below the national root gets a fresh ЄДРПОУ (its staff can sign), and the
    school is managed by the hromada.
    """

    def code() -> str | None:
        return edrpou() if with_edrpou else None

    national = org_unit(session, level=OrgLevel.NATIONAL, name="Україна")
    oblast = org_unit(session, level=OrgLevel.OBLAST, parent=national, edrpou=code())
    rayon = org_unit(session, level=OrgLevel.RAYON, parent=oblast, oblast_id=oblast.id, edrpou=code())
    hromada = org_unit(session, level=OrgLevel.HROMADA, parent=rayon, oblast_id=oblast.id, edrpou=code())
    school = org_unit(session, level=OrgLevel.SCHOOL, parent=hromada, oblast_id=oblast.id, edrpou=code())
    if with_edrpou:
        school.managing_body_id = hromada.id
        session.flush()
    return {"national": national, "oblast": oblast, "rayon": rayon, "hromada": hromada, "school": school}


def account(session: Session, unit: OrgUnit, state: AccountState = AccountState.ACTIVE) -> Account:
    """The account of `unit`."""
    acc = Account(org_unit_id=unit.id, state=state)
    session.add(acc)
    session.flush()
    return acc


def person(
    session: Session,
    acc: Account,
    *,
    role: PersonRole,
    state: PersonState = PersonState.ACTIVE,
    name: str | None = None,
    email: str | None = None,
    rnokpp: str | None = None,
    appointed_by: Person | None = None,
) -> Person:
    """A person acting for `acc` (with a РНОКПП when given, so that they can sign with КЕП)."""
    n = next(_seq)
    p = Person(
        account_id=acc.id,
        org_unit_id=acc.org_unit_id,
        role=role,
        state=state,
        full_name=name or f"Особа {n}",
        email=email or f"person{n}@example.org",
        appointed_by_id=appointed_by.id if appointed_by else None,
    )
    session.add(p)
    session.flush()
    if rnokpp is not None:
        set_rnokpp(session=session, person=p, rnokpp=rnokpp)
    return p


def approval_task(
    session: Session,
    *,
    requester: Person,
    subject: OrgUnit,
    scope: OrgUnit,
    allowed_roles: list[PersonRole],
    due_in_seconds: int | None = 3600,
    due_business_days: int | None = None,
    started_by: Person | None = None,
    process_type: str = "demo-approval",
) -> tuple[Process, ApprovalTask]:
    """A process (demo-approval unless told) of `requester` about `subject` — started by `started_by` on
    their behalf when given — with its open «approve» step (due in seconds or in business days)."""
    from aikom.services import approvals, processes
    from aikom.services.approvals import ApprovalRequest

    process = processes.create_process(
        session=session,
        type=process_type,
        actor=actor(started_by, on_behalf_of=requester) if started_by else actor(requester),
        subject_org_unit_id=subject.id,
    )
    task = approvals.create_task(
        session=session,
        request=ApprovalRequest(
            process_id=process.id,
            step_key="approve",
            title="Погодження",
            allowed_roles=allowed_roles,
            scope_org_unit_id=scope.id,
            excluded_person_id=requester.id,
            due_in_seconds=None if due_business_days else due_in_seconds,
            due_business_days=due_business_days,
        ),
    )
    return process, task


def actor(person: Person, on_behalf_of: Person | None = None) -> Actor:
    """The `Actor` value of a person (acting, perhaps, for another)."""
    if on_behalf_of is None:
        return Actor(person_id=person.id, label=person.full_name)
    return Actor(
        person_id=person.id,
        label=person.full_name,
        on_behalf_of_id=on_behalf_of.id,
        on_behalf_of_label=on_behalf_of.full_name,
    )


def connected_ois(
    session: Session,
    *,
    name: str | None = None,
    capability: str = "receive",
    contact_email: str | None = None,
    state: str = "connected",
    with_agreement: bool = True,
    company: str | None = None,
    site: str | None = None,
    contact_name: str | None = None,
    contact_phone: str | None = None,
    connected_at: datetime | None = None,
) -> Ois:
    """An ОІС as the connection process leaves it (CONNECTED, capability in force from `connected_at` —
    yesterday by default —, an approved numbered agreement) — built directly, for the tests of what comes
    after the connection."""
    import hashlib
    from datetime import UTC, timedelta

    from aikom.models import Agreement, AgreementState, OisCapability, OisPhase, OisState

    n = next(_seq)
    connected_at = connected_at or datetime.now(UTC) - timedelta(days=1)
    ois = Ois(
        system_name=name or f"ОІС {n}",
        company_name=company or f"ТОВ «Оператор {n}»",
        company_edrpou=edrpou(),
        site=site or f"https://ois{n}.example.org",
        contact_name=contact_name or f"Контакт {n}",
        contact_email=contact_email or f"ois{n}-{random.randrange(10**9)}@example.org",
        contact_phone=contact_phone,
        state=OisState(state),
        capability=OisCapability(capability),
        client_id=f"ois-{n}-{random.randrange(10**9)}",
        submission_count=1,
        connected_at=connected_at,
        state_changed_at=connected_at,
    )
    session.add(ois)
    session.flush()
    if with_agreement:
        content = f"Договір про приєднання ОІС №{ois.id}".encode()
        session.add(
            Agreement(
                ois_id=ois.id,
                file_name="agreement.pdf",
                content=content,
                sha256=hashlib.sha256(content).hexdigest(),
                state=AgreementState.APPROVED,
                number=f"Д-{ois.id}-{random.randrange(10**6)}",
                agreement_date=connected_at.date(),
                approved_at=connected_at,
            )
        )
    session.add(
        OisPhase(
            ois_id=ois.id,
            capability=OisCapability(capability),
            effective_from=connected_at,
            note="Підключення",
        )
    )
    session.flush()
    return ois
