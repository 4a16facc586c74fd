"""Branches (DESIGN §3 item 4): who may ask for a branch, the rules it must meet, who confirms it, and —
once confirmed — the branch under its hub with (when it has its own ЄДРПОУ) its account and head.

A hub is an active school that ЄДЕБО marks «Опорний» (`edebo_mark = 'hub'`) or that already has active
branches. Only the hub's own active director asks (a deputy may not: a director does not pass powers on);
an admin of the ОУО that manages the hub confirms (of the ОУО above when it has no active admin). Nothing
here commits; every refusal changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.core.errors import DomainError, NotFound, RoleNotAllowed, ValidationFailed
from aikom.models import Account, OrgLevel, OrgStatus, OrgUnit, Person, PersonRole, PersonState, Process
from aikom.processes.branch import SPEC, TYPE, BranchFacts, BranchParams
from aikom.processes.cascade_provisioning import PersonRecord
from aikom.services import audit
from aikom.services.accounts import check_may_open, open_account
from aikom.services.appointments import appoint_person, check_not_in_role, open_rnokpp, seal_rnokpp
from aikom.services.approvals import FIRST_SIGNIN_STEP
from aikom.services.persons import ADMIN_ROLE_OF_LEVEL, PersonData
from aikom.services.processes import create_process, notify_requester, process_actor, process_facts
from aikom.services.provisioning import LIVE, requesting_person
from aikom.settings import Settings, get_settings

RNOKPP_FIELD = "head_rnokpp"  # what the sealed РНОКПП of the branch's head is bound to
HUB_MARK = "hub"
HEAD_TITLE_UK = "керівник філії"


# --- one exception per rule -------------------------------------------------------------------


class NotHubDirector(RoleNotAllowed):
    """Only the hub's own active director asks for a branch (never a deputy)."""

    code = "not_hub_director"

    def __init__(self, person: Person) -> None:
        who = (
            "заступник не може створити філію — керівник не передає своїх повноважень"
            if person.role == PersonRole.DEPUTY
            else "філію створює лише чинний керівник опорного закладу освіти"
        )
        super().__init__(f"{SPEC.title_uk}: {who}.", person_id=person.id)


class BranchUnderBranch(DomainError):
    """A branch has no branches of its own."""

    code = "branch_under_branch"

    def __init__(self, unit: OrgUnit) -> None:
        super().__init__(
            f"Опорний заклад: «{unit.name}» — сама філія, а філія не може мати власних філій; нову філію "
            "створює керівник опорного закладу.",
            org_unit_id=unit.id,
        )


class NotAHub(DomainError):
    """Branches hang under a hub school only."""

    code = "not_a_hub"

    def __init__(self, unit: OrgUnit, reason: str) -> None:
        super().__init__(f"Опорний заклад: «{unit.name}» {reason}", org_unit_id=unit.id)


class HubWithoutManagingBody(DomainError):
    """Nobody could confirm the branch: the hub has no managing ОУО."""

    code = "hub_without_managing_body"

    def __init__(self, unit: OrgUnit) -> None:
        super().__init__(
            f"Опорний заклад: у «{unit.name}» не визначено ОУО, що ним керує, тож філію нікому підтвердити; "
            "спершу ОУО має розмістити заклад у довіднику.",
            org_unit_id=unit.id,
        )


class BranchEdrpouTaken(ValidationFailed):
    """A branch's own ЄДРПОУ belongs to no other active unit (the hub's included)."""

    code = "edrpou_taken"

    def __init__(self, edrpou: str, holder: OrgUnit, hub: OrgUnit) -> None:
        if holder.id == hub.id:
            message = (
                f"ЄДРПОУ: «{edrpou}» — код самого опорного закладу; для філії без власного ЄДРПОУ залиште "
                "поле порожнім (її працівники підписують КЕП з ЄДРПОУ опорного закладу)."
            )
        else:
            message = (
                f"ЄДРПОУ: код «{edrpou}» уже належить чинній одиниці «{holder.name}»; власний ЄДРПОУ "
                "філії не може належати іншій чинній одиниці."
            )
        super().__init__("edrpou", message)
        self.context["org_unit_id"] = holder.id


class EdeboIdTaken(ValidationFailed):
    """A ЄДЕБО id names one unit."""

    code = "edebo_id_taken"

    def __init__(self, edebo_id: str, holder: OrgUnit) -> None:
        super().__init__(
            "edebo_id",
            f"Код ЄДЕБО: «{edebo_id}» уже має одиниця «{holder.name}»; код ЄДЕБО не може повторюватися.",
        )
        self.context["org_unit_id"] = holder.id


class BranchAlreadyRequested(DomainError):
    """The same branch (by name, ЄДРПОУ or ЄДЕБО id) is already waiting for its confirmation."""

    code = "branch_already_requested"

    def __init__(self, field_uk: str, process_id: int) -> None:
        super().__init__(
            f"{field_uk}: таку філію вже запитано, і запит ще не завершено (процес № {process_id}).",
            process_id=process_id,
        )


class HeadRequired(ValidationFailed):
    """A branch with its own ЄДРПОУ gets its own account: its head and official email are needed."""

    code = "branch_head_required"


class HeadWithoutEdrpou(ValidationFailed):
    """Without its own ЄДРПОУ a branch has no account and no head of its own."""

    code = "branch_head_without_edrpou"


# --- who may ask, and the rules --------------------------------------------------------------------


def is_hub(session: Session, unit: OrgUnit) -> bool:
    """Whether a school is a hub: ЄДЕБО marks it so, or it already has active branches."""
    if unit.level != OrgLevel.SCHOOL:
        return False
    if unit.edebo_mark == HUB_MARK:
        return True
    has_branches = exists().where(
        OrgUnit.parent_id == unit.id, OrgUnit.level == OrgLevel.BRANCH, OrgUnit.status == OrgStatus.ACTIVE
    )
    return session.execute(select(has_branches)).scalar() is True


def hub_of(session: Session, person: Person) -> OrgUnit:
    """The hub school whose branch `person` may create (its active director); a refusal otherwise."""
    if person.role != PersonRole.DIRECTOR or person.state != PersonState.ACTIVE:
        raise NotHubDirector(person)
    unit = session.get_one(OrgUnit, person.org_unit_id)
    if unit.level == OrgLevel.BRANCH:
        raise BranchUnderBranch(unit)
    if unit.status != OrgStatus.ACTIVE:
        raise NotAHub(unit, "не діє за реєстром (ліквідований чи реорганізований): філію не створити.")
    if not is_hub(session, unit):
        marked = " (ЄДЕБО позначає його як філію)" if unit.edebo_mark == "branch" else ""
        raise NotAHub(
            unit,
            f"не є опорним закладом{marked}: філію створює лише опорний заклад — той, що в ЄДЕБО позначено "
            "як «Опорний», або той, що вже має філії.",
        )
    check_may_open(session, unit)  # a hub whose account was deactivated creates nothing
    if unit.managing_body_id is None:
        raise HubWithoutManagingBody(unit)
    return unit


def _holder_of_edrpou(session: Session, edrpou: str) -> OrgUnit | None:
    return session.scalars(
        select(OrgUnit).where(OrgUnit.edrpou == edrpou, OrgUnit.status == OrgStatus.ACTIVE).limit(1)
    ).first()


def _holder_of_edebo_id(session: Session, edebo_id: str) -> OrgUnit | None:
    return session.scalars(select(OrgUnit).where(OrgUnit.edebo_id == edebo_id).limit(1)).first()


def check_codes_free(session: Session, *, hub: OrgUnit, edrpou: str | None, edebo_id: str | None) -> None:
    """The branch's own ЄДРПОУ belongs to no active unit, its ЄДЕБО id to no unit at all."""
    if edrpou is not None:
        holder = _holder_of_edrpou(session, edrpou)
        if holder is not None:
            raise BranchEdrpouTaken(edrpou, holder, hub)
    if edebo_id is not None:
        holder = _holder_of_edebo_id(session, edebo_id)
        if holder is not None:
            raise EdeboIdTaken(edebo_id, holder)


def _check_not_requested(session: Session, *, hub: OrgUnit, params: BranchParams) -> None:
    live = session.scalars(
        select(Process).where(Process.type == TYPE, Process.state.in_(LIVE)).order_by(Process.id)
    ).all()
    for process in live:
        facts = BranchFacts.model_validate(process.parameters)
        if params.edrpou is not None and facts.edrpou == params.edrpou:
            raise BranchAlreadyRequested("ЄДРПОУ", process.id)
        if params.edebo_id is not None and facts.edebo_id == params.edebo_id:
            raise BranchAlreadyRequested("Код ЄДЕБО", process.id)
        if facts.hub_id == hub.id and facts.name.casefold() == params.name.casefold():
            raise BranchAlreadyRequested("Назва", process.id)


def _check_head(params: BranchParams) -> None:
    if params.edrpou is None:
        if params.head is not None or params.official_email is not None:
            raise HeadWithoutEdrpou(
                "head",
                "Керівник філії: філія без власного ЄДРПОУ не має окремого облікового запису, керівника "
                "й офіційної пошти в АІКОМ — її працівники діють в обліковому записі опорного закладу; "
                "вкажіть ЄДРПОУ філії або залиште ці поля порожніми.",
            )
        return
    if params.head is None:
        raise HeadRequired(
            "head",
            "Керівник філії: для філії з власним ЄДРПОУ вкажіть її керівника (ПІБ, РНОКПП, пошта, посада) — "
            "він отримає картку й облаштує КЕП працівникам філії.",
        )
    if params.official_email is None:
        raise HeadRequired(
            "official_email",
            "Офіційна електронна пошта: обов'язкова для філії з власним ЄДРПОУ — на неї надійде базовий "
            "ключ доступу облікового запису філії.",
        )


def start_branch(
    *, session: Session, actor: Actor, params: BranchParams, settings: Settings | None = None
) -> Process:
    """Validate a director's request for a branch and record it (STARTING); the caller starts the run."""
    director = requesting_person(session, actor)
    hub = hub_of(session, director)
    _check_head(params)
    check_codes_free(session, hub=hub, edrpou=params.edrpou, edebo_id=params.edebo_id)
    _check_not_requested(session, hub=hub, params=params)
    if params.head is not None:
        check_not_in_role(session, rnokpp=params.head.rnokpp, role=PersonRole.DIRECTOR, settings=settings)
    assert hub.managing_body_id is not None  # hub_of: it has one
    facts = BranchFacts(
        hub_id=hub.id,
        hub_name=hub.name,
        hub_edrpou=hub.edrpou,
        managing_body_id=hub.managing_body_id,
        name=params.name,
        edrpou=params.edrpou,
        settlement=params.settlement,
        edebo_id=params.edebo_id,
        official_email=params.official_email,
        head=(
            PersonRecord(
                full_name=params.head.full_name, email=params.head.email, position=params.head.position
            )
            if params.head is not None
            else None
        ),
    )
    process = create_process(
        session=session,
        type=TYPE,
        actor=actor,
        subject_org_unit_id=hub.id,
        parameters=facts.model_dump(mode="json"),
        title=f"{SPEC.title_uk}: {params.name} ({hub.name})",
    )
    if params.head is not None:
        facts.head_rnokpp_sealed = seal_rnokpp(
            process=process, field=RNOKPP_FIELD, rnokpp=params.head.rnokpp, settings=settings
        )
        process.parameters = facts.model_dump(mode="json")
    audit.record(
        session=session,
        action="branch.requested",
        object_type="process",
        object_id=process.id,
        details={"hub_id": hub.id, "own_edrpou": params.edrpou is not None, "edebo_id": params.edebo_id},
        actor=actor,
    )
    session.flush()
    return process


# --- the steps of the flow -------------------------------------------------------------------------


def _process(session: Session, process_id: int) -> tuple[Process, BranchFacts]:
    return process_facts(
        session=session, process_id=process_id, process_type=TYPE, model=BranchFacts, lock=True
    )


def approver_scope(*, session: Session, process_id: int) -> tuple[PersonRole, int]:
    """Who confirms: an admin of the ОУО that manages the hub, or of the ОУО above when it has no active
    admin (the requester is a director, so four-eyes never leaves the ОУО without a decider)."""
    _, facts = _process(session, process_id)
    body = session.get_one(OrgUnit, facts.managing_body_id)
    role = ADMIN_ROLE_OF_LEVEL[body.level]
    has_admin = session.scalars(
        select(Person.id).where(
            Person.org_unit_id == body.id, Person.role == role, Person.state == PersonState.ACTIVE
        )
    ).first()
    if has_admin is not None or body.parent_id is None:
        return role, body.id
    parent = session.get_one(OrgUnit, body.parent_id)
    return ADMIN_ROLE_OF_LEVEL[parent.level], parent.id


@dataclass(frozen=True)
class CreatedBranch:
    """What a confirmed branch request created."""

    branch_id: int
    name: str
    head_id: int | None  # None: no own ЄДРПОУ, so no account and no head of its own
    head_name: str | None
    account_opened: bool


def create_branch(*, session: Session, process_id: int, settings: Settings | None = None) -> CreatedBranch:
    """The branch under its hub (audited) and, with its own ЄДРПОУ, its account (keys; the base key emailed to
    its official address) and its head's card PENDING with the first-sign-in step; idempotent."""
    settings = settings or get_settings()
    process, facts = _process(session, process_id)
    actor = process_actor(session, process)
    hub = session.get_one(OrgUnit, facts.hub_id)
    if facts.branch_id is None:
        # Rechecked: the hub may have closed, or its codes been taken, while the ОУО decided.
        if hub.status != OrgStatus.ACTIVE:
            raise NotAHub(hub, "уже не діє за реєстром: філію не створено.")
        check_may_open(session, hub)
        check_codes_free(session, hub=hub, edrpou=facts.edrpou, edebo_id=facts.edebo_id)
        branch = OrgUnit(
            level=OrgLevel.BRANCH,
            name=facts.name,
            status=OrgStatus.ACTIVE,
            parent_id=hub.id,
            managing_body_id=hub.managing_body_id,
            oblast_id=hub.oblast_id,
            edrpou=facts.edrpou,
            edebo_id=facts.edebo_id,
            settlement=facts.settlement,
            official_email=facts.official_email,
            school_type=hub.school_type,
        )
        session.add(branch)
        session.flush()
        audit.record(
            session=session,
            action="org_unit.branch_created",
            object_type="org_unit",
            object_id=branch.id,
            details={
                "process_id": process.id,
                "hub_id": hub.id,
                "own_edrpou": facts.edrpou is not None,
                "edebo_id": facts.edebo_id,
            },
            actor=actor,
        )
        facts.branch_id = branch.id
    branch = session.get_one(OrgUnit, facts.branch_id)
    if facts.edrpou is not None and facts.head_id is None:
        _open_branch_account(session, process, facts, branch, actor, settings)
    process.parameters = facts.model_dump(mode="json")
    session.flush()
    return CreatedBranch(
        branch_id=branch.id,
        name=branch.name,
        head_id=facts.head_id,
        head_name=facts.head.full_name if facts.head else None,
        account_opened=facts.account_opened,
    )


def _open_branch_account(
    session: Session, process: Process, facts: BranchFacts, branch: OrgUnit, actor: Actor, settings: Settings
) -> None:
    assert facts.head is not None and facts.official_email is not None  # start_branch: both given
    deadline = settings.business_calendar().add_business_days(
        datetime.now(UTC), SPEC.days_for(FIRST_SIGNIN_STEP)
    )
    opened = open_account(
        session=session,
        unit=branch,
        official_email=facts.official_email,
        actor=actor,
        deadline=deadline,
        idempotency_key=f"process-{process.id}-base-key",
        settings=settings,
    )
    facts.account_opened = facts.account_opened or opened.opened
    account = session.get_one(Account, opened.account_id)
    rnokpp = open_rnokpp(
        process=process, field=RNOKPP_FIELD, sealed=facts.head_rnokpp_sealed, settings=settings
    )
    check_not_in_role(session, rnokpp=rnokpp, role=PersonRole.DIRECTOR, settings=settings)
    head, _ = appoint_person(
        session=session,
        process=process,
        account=account,
        role=PersonRole.DIRECTOR,
        data=PersonData(
            full_name=facts.head.full_name, email=facts.head.email, rnokpp=rnokpp, title=facts.head.position
        ),
        actor=actor,
        step_title=f"Перший вхід керівника філії з КЕП: {facts.head.full_name}",
        due_business_days=SPEC.days_for(FIRST_SIGNIN_STEP),
        role_title_uk=f"{HEAD_TITLE_UK} ({facts.head.position})",
        settings=settings,
    )
    facts.account_id = account.id
    facts.head_id = head.id


def notify_branch_created(*, session: Session, process_id: int) -> None:
    """Tell the requester that a branch without its own ЄДРПОУ exists now and how its staff sign."""
    _, facts = _process(session, process_id)
    notify_requester(
        session=session,
        process_id=process_id,
        outcome="філію створено",
        comment=None,
        facts=[
            f"Філію «{facts.name}» ({facts.settlement}) створено в АІКОМ під «{facts.hub_name}».",
            "Власного ЄДРПОУ філія не має: її працівники діють в обліковому записі опорного закладу й "
            f"підписують КЕП з ЄДРПОУ опорного закладу ({facts.hub_edrpou or '—'}).",
        ],
    )


def completed_outcome(created: CreatedBranch) -> str:
    """The outcome a finished branch process records."""
    if created.head_id is None:
        return f"Філію створено: {created.name} (працівники підписують КЕП з ЄДРПОУ опорного закладу)."
    return (
        f"Філію створено: {created.name}; обліковий запис філії відкрито, керівника філії "
        f"({created.head_name}) активовано першим входом з КЕП."
    )


@dataclass(frozen=True)
class HubView:
    """The hub a director creates branches of, as the start form shows it."""

    id: int
    name: str
    edrpou: str | None
    managing_body: str
    branches: list[str]


def branch_hub(*, session: Session, person_id: int) -> HubView:
    """The person's hub school with its managing ОУО and current branches; a refusal when they may not."""
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound(f"Особу № {person_id} не знайдено.")
    hub = hub_of(session, person)
    body = session.get_one(OrgUnit, hub.managing_body_id)
    names = session.scalars(
        select(OrgUnit.name)
        .where(
            OrgUnit.parent_id == hub.id, OrgUnit.level == OrgLevel.BRANCH, OrgUnit.status == OrgStatus.ACTIVE
        )
        .order_by(OrgUnit.name)
    ).all()
    return HubView(id=hub.id, name=hub.name, edrpou=hub.edrpou, managing_body=body.name, branches=list(names))
