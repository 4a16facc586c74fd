"""Cascade provisioning and deputies (DESIGN §3 items 1 and 3): who may create whose card, and the card
itself with its first-sign-in step (and, for a unit the rollout has not opened, its account and keys).

The cascade: institute → oblast → rayon → hromada, one level down each (the unit's parent is the admin's
unit); a school's director is created by the ОУО that manages the school. A director creates deputies;
a deputy creates nobody (a director does not pass powers on).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.core.errors import DomainError, NotFound, NotInScope, RoleNotAllowed
from aikom.mail.templates import PersonNotice
from aikom.models import (
    Account,
    OrgLevel,
    OrgStatus,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
    Process,
    ProcessState,
)
from aikom.processes.cascade_provisioning import (
    SPEC,
    TYPE,
    CascadeProvisioningParams,
    PersonCard,
    PersonRecord,
    ProvisioningFacts,
)
from aikom.processes.deputy import SPEC as DEPUTY_SPEC
from aikom.processes.deputy import TYPE as DEPUTY_TYPE
from aikom.processes.deputy import DeputyFacts, DeputyParams
from aikom.services import audit
from aikom.services.accounts import account_of, check_may_open, has_keys, official_email_of, open_account
from aikom.services.appointments import (
    appoint_person,
    check_not_in_role,
    open_rnokpp,
    persons_of,
    seal_rnokpp,
)
from aikom.services.approvals import FIRST_SIGNIN_STEP
from aikom.services.org import find_unit, is_within
from aikom.services.outbox import enqueue
from aikom.services.persons import ADMIN_ROLE_OF_LEVEL, PersonData, role_title
from aikom.services.processes import create_process, get_process, process_actor, requester_of
from aikom.settings import Settings, get_settings

RNOKPP_FIELD = "person_rnokpp"
LIVE = (ProcessState.STARTING, ProcessState.RUNNING, ProcessState.WAITING)
LEVEL_GENITIVE_UK = {
    OrgLevel.OBLAST: "області",
    OrgLevel.RAYON: "району",
    OrgLevel.HROMADA: "громади",
    OrgLevel.DISTRICT: "району міста",
    OrgLevel.SCHOOL: "закладу освіти",
    OrgLevel.BRANCH: "філії",
    OrgLevel.OIS_COMPANY: "оператора ОІС",
}


# --- one exception per rule -------------------------------------------------------------------


class NotOneLevelDown(NotInScope):
    """The cascade creates cards one level down only (a school's: its managing ОУО)."""

    code = "not_one_level_down"

    def __init__(self, unit: OrgUnit, reason: str) -> None:
        super().__init__(f"Одиниця: «{unit.name}» — {reason}", org_unit_id=unit.id)


class UnitNotProvisionable(DomainError):
    """Only active oblasts, rayons, hromadas and schools are opened through the cascade."""

    code = "unit_not_provisionable"

    def __init__(self, unit: OrgUnit, reason: str) -> None:
        super().__init__(f"Одиниця: «{unit.name}» — {reason}", org_unit_id=unit.id)


class SchoolHasDirector(DomainError):
    """A school has one director; changing them is the director replacement."""

    code = "school_has_director"

    def __init__(self, unit: OrgUnit, director: Person) -> None:
        super().__init__(
            f"Одиниця: у закладу «{unit.name}» уже є керівник ({director.full_name}); щоб змінити керівника, "
            "почніть процес «Заміна керівника закладу освіти».",
            org_unit_id=unit.id,
        )


class ProvisioningAlreadyRunning(DomainError):
    """One card at a time per unit: a second request waits for the first."""

    code = "provisioning_already_running"

    def __init__(self, process_id: int) -> None:
        super().__init__(
            f"Для цієї одиниці вже триває створення облікового запису чи картки (процес № {process_id}).",
            process_id=process_id,
        )


class DeputyNotDeactivatable(DomainError):
    """A director deactivates only an active deputy of their own school."""

    code = "deputy_not_deactivatable"


# --- cascade provisioning ---------------------------------------------------------------------


def requesting_person(session: Session, actor: Actor) -> Person:
    """The person a request is from (the support desk acting for them uses their rights), active."""
    person = requester_of(session, actor)
    if person.state != PersonState.ACTIVE:
        raise RoleNotAllowed("Ваша картка не активна: увійдіть із КЕП, щоб її активувати.")
    return person


def role_for(unit: OrgUnit) -> PersonRole:
    """The admin person a unit's account is opened with: an ОУО's admin, a school's director."""
    if unit.level == OrgLevel.SCHOOL:
        return PersonRole.DIRECTOR
    return ADMIN_ROLE_OF_LEVEL[unit.level]


def check_may_provision(session: Session, requester: Person, unit: OrgUnit) -> None:
    """The requester is an admin of the unit one level up (for a school: of its managing ОУО)."""
    own = session.get_one(OrgUnit, requester.org_unit_id)
    if ADMIN_ROLE_OF_LEVEL.get(own.level) != requester.role:
        raise RoleNotAllowed(f"{SPEC.title_uk}: {SPEC.who_may_start_uk}")
    if unit.status != OrgStatus.ACTIVE:
        raise UnitNotProvisionable(unit, "одиниця не діє за реєстром (ліквідована чи реорганізована).")
    if unit.level in (OrgLevel.NATIONAL, OrgLevel.BRANCH):
        raise UnitNotProvisionable(
            unit,
            "обліковий запис філії з власним ЄДРПОУ відкривають під час створення філії, а національного "
            "рівня — під час розгортання системи.",
        )
    if unit.level == OrgLevel.SCHOOL:
        managing = unit.managing_body_id or unit.parent_id
        if managing == own.id:
            return
        body = session.get(OrgUnit, managing) if managing else None
        reason = (
            f"картку керівника закладу створює ОУО, що ним керує: «{body.name}»."
            if body
            else "у закладу не визначено ОУО, що ним керує: спершу розмістіть заклад у довіднику."
        )
        if is_within(session, unit.id, own.id):
            raise NotOneLevelDown(unit, reason)
        raise NotInScope(
            f"Одиниця: «{unit.name}» лежить поза вашою територією; {reason}", org_unit_id=unit.id
        )
    if unit.parent_id == own.id:
        return
    if is_within(session, unit.id, own.id):
        raise NotOneLevelDown(
            unit,
            f"не на рівень нижче від «{own.name}»: обліковий запис {LEVEL_GENITIVE_UK[unit.level]} відкриває "
            "адміністратор безпосередньо вищого рівня.",
        )
    raise NotInScope(
        f"Одиниця: «{unit.name}» лежить поза вашою територією ({own.name}).", org_unit_id=unit.id
    )


def _running(session: Session, process_type: str, unit_id: int) -> int | None:
    return session.scalars(
        select(Process.id).where(
            Process.type == process_type, Process.subject_org_unit_id == unit_id, Process.state.in_(LIVE)
        )
    ).first()


def start_provisioning(
    *, session: Session, actor: Actor, params: CascadeProvisioningParams, settings: Settings | None = None
) -> Process:
    """Validate and record the process (STARTING); the caller starts the flow run after commit."""
    requester = requesting_person(session, actor)
    unit = find_unit(session=session, code=params.unit)
    check_may_provision(session, requester, unit)
    account = check_may_open(session, unit)
    role = role_for(unit)
    if role == PersonRole.DIRECTOR:
        current = persons_of(session, unit.id, PersonRole.DIRECTOR)
        if current:
            raise SchoolHasDirector(unit, current[0])
    running = _running(session, TYPE, unit.id)
    if running is not None:
        raise ProvisioningAlreadyRunning(running)
    check_not_in_role(session, rnokpp=params.person.rnokpp, role=role, settings=settings)
    needs_opening = account is None or not has_keys(session, account.id)
    official_email = official_email_of(unit, params.official_email) if needs_opening else None
    facts = ProvisioningFacts(
        unit_id=unit.id,
        unit_name=unit.name,
        role=role,
        official_email=official_email,
        person=_record(params.person),
    )
    process = create_process(
        session=session,
        type=TYPE,
        actor=actor,
        subject_org_unit_id=unit.id,
        parameters=facts.model_dump(mode="json"),
        title=f"{SPEC.title_uk}: {unit.name}",
    )
    facts.person_rnokpp_sealed = seal_rnokpp(
        process=process, field=RNOKPP_FIELD, rnokpp=params.person.rnokpp, settings=settings
    )
    process.parameters = facts.model_dump(mode="json")
    audit.record(
        session=session,
        action="provisioning.started",
        object_type="process",
        object_id=process.id,
        details={"org_unit_id": unit.id, "role": role.value, "opens_account": needs_opening},
        actor=actor,
    )
    session.flush()
    return process


def _record(card: PersonCard) -> PersonRecord:
    return PersonRecord(full_name=card.full_name, email=card.email, position=card.position)


def _facts(session: Session, process_id: int, process_type: str) -> Process:
    process = get_process(session=session, process_id=process_id, lock=True)
    if process.type != process_type:
        raise NotFound(f"Процес № {process_id} не знайдено.")
    return process


@dataclass(frozen=True)
class Appointed:
    """The card a process created (and the account it opened, if any)."""

    person_id: int
    full_name: str
    account_opened: bool


def provision(*, session: Session, process_id: int, settings: Settings | None = None) -> Appointed:
    """Open the unit's account if it has none (keys, base key emailed to the official address) and create
    the person's card (PENDING) with its first-sign-in step and invitation; idempotent."""
    settings = settings or get_settings()
    process = _facts(session, process_id, TYPE)
    facts = ProvisioningFacts.model_validate(process.parameters)
    if facts.person_id is not None:
        return Appointed(facts.person_id, facts.person.full_name, facts.account_opened)
    unit = session.get_one(OrgUnit, facts.unit_id)
    actor = process_actor(session, process)
    now = datetime.now(UTC)
    deadline = settings.business_calendar().add_business_days(now, SPEC.days_for(FIRST_SIGNIN_STEP))
    account = account_of(session, unit.id)
    if account is None or not has_keys(session, account.id):
        if facts.official_email is None:
            facts.official_email = official_email_of(unit, None)
        opened = open_account(
            session=session,
            unit=unit,
            official_email=facts.official_email,
            actor=actor,
            deadline=deadline,
            idempotency_key=f"process-{process.id}-base-key",
            settings=settings,
        )
        facts.account_opened = opened.opened
        account = session.get_one(Account, opened.account_id)
    check_may_open(session, unit)  # deactivated meanwhile: stop here
    rnokpp = open_rnokpp(
        process=process, field=RNOKPP_FIELD, sealed=facts.person_rnokpp_sealed, settings=settings
    )
    check_not_in_role(session, rnokpp=rnokpp, role=facts.role, settings=settings)
    person, _ = appoint_person(
        session=session,
        process=process,
        account=account,
        role=facts.role,
        data=PersonData(
            full_name=facts.person.full_name,
            email=facts.person.email,
            rnokpp=rnokpp,
            title=facts.person.position,
        ),
        actor=actor,
        step_title=f"Перший вхід з КЕП: {facts.person.full_name} ({role_title(facts.role)})",
        due_business_days=SPEC.days_for(FIRST_SIGNIN_STEP),
        role_title_uk=role_title(facts.role).lower(),
        settings=settings,
    )
    facts.person_id = person.id
    facts.account_id = account.id
    process.parameters = facts.model_dump(mode="json")
    session.flush()
    return Appointed(person.id, person.full_name, facts.account_opened)


# --- deputies ---------------------------------------------------------------------------------


def start_deputy(
    *, session: Session, actor: Actor, params: DeputyParams, settings: Settings | None = None
) -> Process:
    """A director asks for a deputy's card; the caller starts the flow run after commit."""
    director = requesting_person(session, actor)
    if director.role != PersonRole.DIRECTOR:
        raise RoleNotAllowed(f"{DEPUTY_SPEC.title_uk}: {DEPUTY_SPEC.who_may_start_uk}")
    school = session.get_one(OrgUnit, director.org_unit_id)
    check_may_open(session, school)
    check_not_in_role(session, rnokpp=params.person.rnokpp, role=PersonRole.DEPUTY, settings=settings)
    check_not_in_role(session, rnokpp=params.person.rnokpp, role=PersonRole.DIRECTOR, settings=settings)
    facts = DeputyFacts(
        school_id=school.id, school_name=school.name, director_id=director.id, person=_record(params.person)
    )
    process = create_process(
        session=session,
        type=DEPUTY_TYPE,
        actor=actor,
        subject_org_unit_id=school.id,
        parameters=facts.model_dump(mode="json"),
        title=f"{DEPUTY_SPEC.title_uk}: {params.person.full_name}",
    )
    facts.person_rnokpp_sealed = seal_rnokpp(
        process=process, field=RNOKPP_FIELD, rnokpp=params.person.rnokpp, settings=settings
    )
    process.parameters = facts.model_dump(mode="json")
    audit.record(
        session=session,
        action="deputy.requested",
        object_type="process",
        object_id=process.id,
        details={"school_id": school.id},
        actor=actor,
    )
    session.flush()
    return process


def appoint_deputy(*, session: Session, process_id: int, settings: Settings | None = None) -> Appointed:
    """The deputy's card (PENDING, appointed by the director), first-sign-in step and invitation."""
    process = _facts(session, process_id, DEPUTY_TYPE)
    facts = DeputyFacts.model_validate(process.parameters)
    if facts.person_id is not None:
        return Appointed(facts.person_id, facts.person.full_name, False)
    school = session.get_one(OrgUnit, facts.school_id)
    account = check_may_open(session, school)
    if account is None:
        raise DomainError("У закладу немає облікового запису АІКОМ.")
    director = session.get_one(Person, facts.director_id)
    if director.state != PersonState.ACTIVE:
        raise DomainError("Керівник, який призначав заступника, уже не чинний: заступника не створено.")
    rnokpp = open_rnokpp(
        process=process, field=RNOKPP_FIELD, sealed=facts.person_rnokpp_sealed, settings=settings
    )
    person, _ = appoint_person(
        session=session,
        process=process,
        account=account,
        role=PersonRole.DEPUTY,
        data=PersonData(
            full_name=facts.person.full_name,
            email=facts.person.email,
            rnokpp=rnokpp,
            title=facts.person.position,
        ),
        actor=process_actor(session, process),
        step_title=f"Перший вхід заступника з КЕП: {facts.person.full_name}",
        due_business_days=DEPUTY_SPEC.days_for(FIRST_SIGNIN_STEP),
        role_title_uk=f"заступник керівника ({facts.person.position})",
        appointed_by_id=director.id,
        settings=settings,
    )
    facts.person_id = person.id
    process.parameters = facts.model_dump(mode="json")
    session.flush()
    return Appointed(person.id, person.full_name, False)


@dataclass(frozen=True)
class DeputyView:
    """A deputy as their director sees them."""

    id: int
    full_name: str
    email: str
    position: str | None
    state: PersonState
    appointed_by: str | None
    created_at: datetime


def deputies_of(*, session: Session, director_id: int) -> list[DeputyView]:
    """The deputies of the director's school (current and former), newest first."""
    director = session.get_one(Person, director_id)
    rows = session.scalars(
        select(Person)
        .where(Person.org_unit_id == director.org_unit_id, Person.role == PersonRole.DEPUTY)
        .order_by(Person.id.desc())
    ).all()
    names = {
        p.id: p.full_name
        for p in session.scalars(
            select(Person).where(Person.id.in_({r.appointed_by_id for r in rows if r.appointed_by_id}))
        )
    }
    return [
        DeputyView(
            id=r.id,
            full_name=r.full_name,
            email=r.email,
            position=r.title,
            state=r.state,
            appointed_by=names.get(r.appointed_by_id) if r.appointed_by_id else None,
            created_at=r.created_at,
        )
        for r in rows
    ]


def deactivate_deputy(*, session: Session, actor: Actor, deputy_id: int) -> Person:
    """A director deactivates a deputy of their school (INACTIVE; audited; the deputy is told)."""
    director = requesting_person(session, actor)
    if director.role != PersonRole.DIRECTOR:
        raise RoleNotAllowed("Заступника деактивує керівник закладу освіти.")
    deputy = session.get(Person, deputy_id, with_for_update=True)
    if deputy is None or deputy.role != PersonRole.DEPUTY:
        raise NotFound(f"Заступника № {deputy_id} не знайдено.")
    if deputy.org_unit_id != director.org_unit_id:
        raise NotInScope("Заступник: це заступник іншого закладу.", person_id=deputy_id)
    if deputy.state == PersonState.INACTIVE:
        raise DeputyNotDeactivatable(f"Заступник: картку «{deputy.full_name}» уже деактивовано.")
    if deputy.state == PersonState.PENDING:
        raise DeputyNotDeactivatable(
            f"Заступник: картка «{deputy.full_name}» ще очікує першого входу з КЕП; якщо входу не буде, "
            "вона не набуде чинності, коли мине строк."
        )
    deputy.state = PersonState.INACTIVE
    deputy.deactivated_at = datetime.now(UTC)
    audit.record(
        session=session,
        action="person.deputy_deactivated",
        object_type="person",
        object_id=deputy.id,
        details={"by_director": director.id},
        actor=actor,
    )
    school = session.get_one(OrgUnit, deputy.org_unit_id)
    enqueue(
        session=session,
        template="person_notice",
        to_address=deputy.email,
        variables=PersonNotice(
            recipient_name=deputy.full_name,
            subject="повноваження заступника припинено",
            lines=[
                f"Керівник закладу «{school.name}» ({director.full_name}) деактивував вашу картку заступника "
                "в АІКОМ.",
                "Вхід від імені закладу більше неможливий.",
            ],
        ),
        idempotency_key=f"deputy-{deputy.id}-deactivated",
    )
    session.flush()
    return deputy


@dataclass(frozen=True)
class ProvisionableUnit:
    """A unit the admin may open an account or a card for, as the start form lists it."""

    id: int
    name: str
    level: OrgLevel
    edrpou: str | None
    official_email: str | None
    account_state: str | None  # None: no account yet
    persons: int  # current admin persons (a school: its director)


def provisionable_units(*, session: Session, person_id: int, limit: int = 2000) -> list[ProvisionableUnit]:
    """The active units one level down from the admin's unit (a hromada's: the schools it manages)."""
    from sqlalchemy import func, or_

    admin = session.get_one(Person, person_id)
    own = session.get_one(OrgUnit, admin.org_unit_id)
    if ADMIN_ROLE_OF_LEVEL.get(own.level) != admin.role:
        return []
    below = or_(
        (OrgUnit.level != OrgLevel.SCHOOL) & (OrgUnit.parent_id == own.id),
        (OrgUnit.level == OrgLevel.SCHOOL)
        & (func.coalesce(OrgUnit.managing_body_id, OrgUnit.parent_id) == own.id),
    )
    persons = (
        select(func.count(Person.id))
        .where(
            Person.org_unit_id == OrgUnit.id,
            Person.role != PersonRole.DEPUTY,
            Person.state.in_([PersonState.PENDING, PersonState.ACTIVE]),
        )
        .scalar_subquery()
    )
    rows = session.execute(
        select(OrgUnit, Account.state, persons)
        .outerjoin(Account, Account.org_unit_id == OrgUnit.id)
        .where(below, OrgUnit.status == OrgStatus.ACTIVE, OrgUnit.level.not_in([OrgLevel.BRANCH]))
        .order_by(OrgUnit.name)
        .limit(limit)
    ).all()
    return [
        ProvisionableUnit(
            id=unit.id,
            name=unit.name,
            level=unit.level,
            edrpou=unit.edrpou,
            official_email=unit.official_email,
            account_state=str(state) if state is not None else None,
            persons=int(count or 0),
        )
        for unit, state, count in rows
    ]
