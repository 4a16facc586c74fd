"""Director replacement (DESIGN §3 item 2): start, the approver's scope, the change of persons and the
new director's decision on each deputy of the former one.

The school's account, API keys and ОІС grants are not touched: a replacement changes persons only.
The new director's РНОКПП never travels in clear: it is sealed into the process parameters, bound to
the process row, and only opened to create the person card.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.core.errors import DomainError, NotFound, NotInScope, RoleNotAllowed
from aikom.core.timefmt import format_date
from aikom.mail.templates import PersonNotice
from aikom.models import (
    Account,
    AccountState,
    ApprovalTask,
    Decision,
    OrgLevel,
    OrgStatus,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
    Process,
    ProcessState,
)
from aikom.processes.director_replacement import (
    SPEC,
    TYPE,
    DirectorReplacementParams,
    NewDirectorRecord,
    ReplacementFacts,
)
from aikom.services import audit
from aikom.services.appointments import appoint_person, open_rnokpp, seal_rnokpp
from aikom.services.approvals import FIRST_SIGNIN_STEP, ApprovalRequest, create_task
from aikom.services.outbox import enqueue
from aikom.services.persons import ADMIN_ROLE_OF_LEVEL, PersonData, read_rnokpp
from aikom.services.processes import (
    create_process,
    notify_requester,
    process_actor,
    requester_of,
    starters_of,
)
from aikom.settings import Settings, get_settings

RNOKPP_FIELD = "new_director_rnokpp"  # what the sealed РНОКПП is bound to, beside the process id


def deputy_step_key(deputy_id: int) -> str:
    """The step key of the new director's decision on one deputy."""
    return f"deputy-{deputy_id}"


class ReplacementAlreadyRunning(DomainError):
    """A school has at most one director replacement under way."""

    code = "replacement_already_running"

    def __init__(self, process_id: int) -> None:
        super().__init__(
            f"Для цього закладу вже триває заміна керівника (процес № {process_id}).", process_id=process_id
        )


class SchoolWithoutAccount(DomainError):
    """A replacement needs the school's АІКОМ account (created by the cascade)."""

    code = "school_without_account"

    def __init__(self, school_id: int) -> None:
        super().__init__(
            "Заклад освіти: у закладу немає чинного облікового запису АІКОМ — спершу ОУО має його створити.",
            school_id=school_id,
        )


class SameDirector(DomainError):
    """The new director is the current one."""

    code = "same_director"

    def __init__(self) -> None:
        super().__init__("РНОКПП: новий керівник збігається з чинним керівником закладу.", field="rnokpp")


def _school(session: Session, school_id: int) -> OrgUnit:
    school = session.get(OrgUnit, school_id)
    if school is None or school.level != OrgLevel.SCHOOL:
        raise NotFound(f"Заклад освіти № {school_id} не знайдено.", school_id=school_id)
    if school.status != OrgStatus.ACTIVE:
        raise DomainError(
            "Заклад освіти не діє (ліквідований або реорганізований): заміна керівника неможлива."
        )
    return school


def find_school(*, session: Session, code: str) -> OrgUnit:
    """A school by ЄДРПОУ or numeric id."""
    code = code.strip()
    stmt = select(OrgUnit).where(OrgUnit.level == OrgLevel.SCHOOL, OrgUnit.status == OrgStatus.ACTIVE)
    if len(code) == 8 and code.isdigit():
        found = session.scalars(stmt.where(OrgUnit.edrpou == code)).first()
    elif code.isdigit():
        found = session.scalars(stmt.where(OrgUnit.id == int(code))).first()
    else:
        found = None
    if found is None:
        raise NotFound(f"Заклад освіти «{code}» не знайдено (вкажіть ЄДРПОУ або номер).", code=code)
    return found


def current_director(session: Session, school_id: int) -> Person | None:
    """The school's pending or active director, if any."""
    return session.scalars(
        select(Person).where(
            Person.org_unit_id == school_id,
            Person.role == PersonRole.DIRECTOR,
            Person.state.in_([PersonState.PENDING, PersonState.ACTIVE]),
        )
    ).first()


def check_may_replace(session: Session, actor: Person, school: OrgUnit) -> None:
    """Only an active admin of the ОУО that manages the school may start a replacement."""
    unit = session.get(OrgUnit, actor.org_unit_id)
    if unit is None or ADMIN_ROLE_OF_LEVEL.get(unit.level) != actor.role or unit.level == OrgLevel.NATIONAL:
        raise RoleNotAllowed("Заміну керівника починає адміністратор органу управління освітою (ОУО).")
    if actor.state != PersonState.ACTIVE:
        raise RoleNotAllowed("Ваша картка не активна: увійдіть із КЕП, щоб її активувати.")
    if school.managing_body_id != actor.org_unit_id:
        raise NotInScope(
            "Заклад не перебуває в управлінні вашого ОУО: заміну керівника починає ОУО, що керує закладом.",
            school_id=school.id,
        )


def start_replacement(
    *,
    session: Session,
    actor: Actor,
    params: DirectorReplacementParams,
    settings: Settings | None = None,
) -> Process:
    """Validate the request and create the process (STARTING); the caller starts the flow run after commit."""
    requester = requester_of(session, actor)
    school = _school(session, find_school(session=session, code=params.school).id)
    check_may_replace(session, requester, school)
    new_director = params.new_director
    account = session.scalars(select(Account).where(Account.org_unit_id == school.id)).one_or_none()
    if account is None or account.state == AccountState.DEACTIVATED:
        raise SchoolWithoutAccount(school.id)
    running = session.scalars(
        select(Process.id).where(
            Process.type == TYPE,
            Process.subject_org_unit_id == school.id,
            Process.state.in_([ProcessState.STARTING, ProcessState.RUNNING, ProcessState.WAITING]),
        )
    ).first()
    if running is not None:
        raise ReplacementAlreadyRunning(running)
    former = current_director(session, school.id)
    if former is not None and read_rnokpp(former, settings=settings) == new_director.rnokpp:
        raise SameDirector()
    assert school.managing_body_id is not None  # check_may_replace: managed by the actor's ОУО
    facts = ReplacementFacts(
        school_id=school.id,
        school_name=school.name,
        managing_body_id=school.managing_body_id,
        former_director_id=former.id if former else None,
        new_director=NewDirectorRecord(
            full_name=new_director.full_name,
            email=new_director.email,
            order_no=new_director.order_no,
            order_date=new_director.order_date,
        ),
    )
    process = create_process(
        session=session,
        type=TYPE,
        actor=actor,
        subject_org_unit_id=school.id,
        parameters=facts.model_dump(mode="json"),
        title=f"{SPEC.title_uk}: {school.name}",
    )
    facts.new_director_rnokpp_sealed = seal_rnokpp(
        process=process, field=RNOKPP_FIELD, rnokpp=new_director.rnokpp, settings=settings
    )
    process.parameters = facts.model_dump(mode="json")
    audit.record(
        session=session,
        action="director_replacement.started",
        object_type="process",
        object_id=process.id,
        details={
            "process_id": process.id,
            "school_id": school.id,
            "former_director_id": facts.former_director_id,
        },
        actor=actor,
    )
    session.flush()
    return process


def facts_of(process: Process) -> ReplacementFacts:
    """The typed parameters of a director replacement."""
    return ReplacementFacts.model_validate(process.parameters)


def get_process_for_update(*, session: Session, process_id: int) -> Process:
    """The director-replacement process; NotFound otherwise."""
    process = session.get(Process, process_id)
    if process is None or process.type != TYPE:
        raise NotFound(f"Процес заміни керівника № {process_id} не знайдено.")
    return process


def approver_scope(session: Session, process: Process) -> tuple[PersonRole, int]:
    """Who approves: another admin of the same ОУО, or of the parent ОУО when it has no other."""
    body = session.get(OrgUnit, facts_of(process).managing_body_id)
    if body is None:
        raise NotFound("ОУО, що керує закладом, не знайдено.")
    others = session.scalars(
        select(Person.id).where(
            Person.org_unit_id == body.id,
            Person.role == ADMIN_ROLE_OF_LEVEL[body.level],
            Person.state == PersonState.ACTIVE,
            Person.id.not_in(starters_of(process)),
        )
    ).first()
    if others is not None or body.parent_id is None:
        return ADMIN_ROLE_OF_LEVEL[body.level], body.id
    parent = session.get(OrgUnit, body.parent_id)
    assert parent is not None
    return ADMIN_ROLE_OF_LEVEL[parent.level], parent.id


def apply_replacement(*, session: Session, process_id: int, settings: Settings | None = None) -> int:
    """Former director INACTIVE (marked former), new director card PENDING, email; idempotent.

    Returns the new director's person id.
    """
    settings = settings or get_settings()
    process = get_process_for_update(session=session, process_id=process_id)
    facts = facts_of(process)
    if facts.new_director_id is not None:
        return facts.new_director_id
    school = _school(session, facts.school_id)
    account = session.scalars(select(Account).where(Account.org_unit_id == school.id)).one_or_none()
    if account is None:
        raise DomainError("У закладу немає облікового запису АІКОМ: спершу його має створити ОУО.")
    actor = process_actor(session, process)
    now = datetime.now(UTC)
    former = current_director(session, school.id)
    if former is not None:
        former.state = PersonState.INACTIVE
        former.is_former = True
        former.deactivated_at = now
        audit.record(
            session=session,
            action="person.director_replaced",
            object_type="person",
            object_id=former.id,
            details={"process_id": process.id},
            actor=actor,
        )
        session.flush()
    rnokpp = open_rnokpp(
        process=process, field=RNOKPP_FIELD, sealed=facts.new_director_rnokpp_sealed, settings=settings
    )
    person, _ = appoint_person(
        session=session,
        process=process,
        account=account,
        role=PersonRole.DIRECTOR,
        data=PersonData(
            full_name=facts.new_director.full_name,
            email=facts.new_director.email,
            rnokpp=rnokpp,
            title="Директор",
            appointment_order_no=facts.new_director.order_no,
            appointment_order_date=facts.new_director.order_date,
        ),
        actor=actor,
        step_title=f"Перший вхід нового керівника з КЕП: {facts.new_director.full_name}",
        due_business_days=SPEC.days_for(FIRST_SIGNIN_STEP),
        role_title_uk="керівник закладу освіти",
        settings=settings,
    )
    facts.new_director_id = person.id
    process.parameters = facts.model_dump(mode="json")
    session.flush()
    return person.id


def deputies_to_review(*, session: Session, process_id: int) -> list[Person]:
    """Deputies appointed by the former director that are still current."""
    process = get_process_for_update(session=session, process_id=process_id)
    former_id = facts_of(process).former_director_id
    if former_id is None:
        return []
    return list(
        session.scalars(
            select(Person)
            .where(
                Person.appointed_by_id == former_id,
                Person.role == PersonRole.DEPUTY,
                Person.state != PersonState.INACTIVE,
            )
            .order_by(Person.id)
        )
    )


def open_deputy_reviews(*, session: Session, process_id: int) -> list[Person]:
    """Open one review step per deputy at once, so the new director sees them all; idempotent."""
    process = get_process_for_update(session=session, process_id=process_id)
    new_director_id = facts_of(process).new_director_id
    deputies = deputies_to_review(session=session, process_id=process_id)
    for deputy in deputies:
        step_key = deputy_step_key(deputy.id)
        create_task(
            session=session,
            request=ApprovalRequest(
                process_id=process.id,
                step_key=step_key,
                title=f"Заступник {deputy.full_name}: підтвердити повноваження чи деактивувати",
                allowed_roles=[PersonRole.DIRECTOR],
                scope_org_unit_id=process.subject_org_unit_id,
                assignee_person_id=new_director_id,
                due_business_days=SPEC.days_for(step_key),
                decisions=[Decision.CONFIRM, Decision.DEACTIVATE],
                details={
                    "deputy": deputy.full_name,
                    "deputy_position": deputy.title or "Заступник директора",
                },
            ),
        )
    return deputies


def apply_deputy_decision(*, session: Session, process_id: int, deputy_id: int, keep: bool) -> None:
    """Confirm a deputy under the new director, or deactivate them; idempotent."""
    process = session.get(Process, process_id)
    deputy = session.get(Person, deputy_id)
    if process is None or deputy is None:
        raise NotFound("Процес або заступника не знайдено.")
    new_director_id = facts_of(process).new_director_id
    new_director = session.get(Person, new_director_id) if new_director_id else None
    label = new_director.full_name if new_director else "system"
    if keep and deputy.appointed_by_id != new_director_id:
        deputy.appointed_by_id = new_director_id
        audit.record(
            session=session,
            action="person.deputy_confirmed",
            object_type="person",
            object_id=deputy.id,
            details={"process_id": process_id},
            actor_person_id=new_director_id,
            actor_label=label,
        )
    elif not keep and deputy.state != PersonState.INACTIVE:
        deputy.state = PersonState.INACTIVE
        deputy.deactivated_at = datetime.now(UTC)
        audit.record(
            session=session,
            action="person.deputy_deactivated",
            object_type="person",
            object_id=deputy.id,
            details={"process_id": process_id},
            actor_person_id=new_director_id,
            actor_label=label,
        )
    session.flush()


class ManagedSchool(BaseModel):
    """A school an ОУО manages, as the start form lists it."""

    id: int
    name: str
    edrpou: str | None
    director: str | None


def managed_schools(*, session: Session, actor: Person, limit: int = 2000) -> list[ManagedSchool]:
    """Active schools with an АІКОМ account managed by the actor's ОУО, with their current director."""
    schools = session.scalars(
        select(OrgUnit)
        .join(Account, Account.org_unit_id == OrgUnit.id)
        .where(
            Account.state != AccountState.DEACTIVATED,
            OrgUnit.managing_body_id == actor.org_unit_id,
            OrgUnit.level == OrgLevel.SCHOOL,
            OrgUnit.status == OrgStatus.ACTIVE,
        )
        .order_by(OrgUnit.name)
        .limit(limit)
    ).all()
    directors_by_school = {
        p.org_unit_id: p.full_name
        for p in session.scalars(
            select(Person).where(
                Person.org_unit_id.in_([s.id for s in schools]),
                Person.role == PersonRole.DIRECTOR,
                Person.state.in_([PersonState.PENDING, PersonState.ACTIVE]),
            )
        )
    }
    return [
        ManagedSchool(id=s.id, name=s.name, edrpou=s.edrpou, director=directors_by_school.get(s.id))
        for s in schools
    ]


def notify_outcome(*, session: Session, process_id: int) -> None:
    """A completed replacement: the requester learns who the new director is and what happened to each
    deputy; the former director and each deactivated deputy are told what it means for them."""
    process = get_process_for_update(session=session, process_id=process_id)
    facts = facts_of(process)
    new_director = session.get(Person, facts.new_director_id) if facts.new_director_id else None
    former = session.get(Person, facts.former_director_id) if facts.former_director_id else None
    lines = [f"Новий керівник: {facts.new_director.full_name} — картку активовано першим входом із КЕП."]
    if former is not None:
        lines.append(f"Колишній керівник {former.full_name}: картку деактивовано (позначено як колишнього).")
    reviews = session.scalars(
        select(ApprovalTask)
        .where(ApprovalTask.process_id == process.id, ApprovalTask.step_key.like("deputy-%"))
        .order_by(ApprovalTask.id)
    ).all()
    for review in reviews:
        deputy = session.get(Person, int(review.step_key.removeprefix("deputy-")))
        if deputy is None:
            continue
        kept = review.decision == Decision.CONFIRM
        if kept:
            lines.append(f"Заступник {deputy.full_name}: повноваження підтверджено новим керівником.")
        else:
            decided = review.decision is not None
            why = "деактивовано новим керівником" if decided else "не підтверджено вчасно — деактивовано"
            lines.append(f"Заступник {deputy.full_name}: {why}.")
            enqueue(
                session=session,
                template="person_notice",
                to_address=deputy.email,
                variables=PersonNotice(
                    recipient_name=deputy.full_name,
                    subject=f"ваші повноваження в «{facts.school_name}» припинено",
                    lines=[
                        f"У закладі «{facts.school_name}» змінено керівника: {facts.new_director.full_name}.",
                        "Новий керівник "
                        + ("не підтвердив" if decided else "не підтвердив вчасно")
                        + " ваші повноваження заступника; вашу картку в АІКОМ деактивовано.",
                    ],
                ),
                idempotency_key=f"process-{process.id}-deputy-{deputy.id}-deactivated",
            )
    notify_requester(session=session, process_id=process.id, outcome="завершено", comment=None, facts=lines)
    if former is not None:
        successor = new_director.full_name if new_director else facts.new_director.full_name
        enqueue(
            session=session,
            template="person_notice",
            to_address=former.email,
            variables=PersonNotice(
                recipient_name=former.full_name,
                subject=f"зміна керівника «{facts.school_name}»",
                lines=[
                    f"Наказом № {facts.new_director.order_no} від "
                    f"{format_date(facts.new_director.order_date)} керівником закладу «{facts.school_name}» "
                    f"призначено {successor}.",
                    "Вашу картку керівника в АІКОМ деактивовано; ключі й доступи закладу збережено.",
                ],
            ),
            idempotency_key=f"process-{process.id}-former-director-told",
        )
