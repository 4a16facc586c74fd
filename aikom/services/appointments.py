"""A new person card that a process creates and that waits for the person's first КЕП sign-in: the card
(PENDING), the first-sign-in step assigned to the person, and the email that tells them to sign in.

Director replacement, cascade provisioning and deputies all appoint people this way. A person's РНОКПП
travels through a process sealed, bound to the process row, and is opened only to create the card.
"""

from __future__ import annotations

import base64

from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.core.crypto import field_context, open_sealed, seal
from aikom.core.errors import DomainError
from aikom.core.timefmt import format_kyiv
from aikom.mail.templates import PersonAppointed
from aikom.models import Account, ApprovalTask, Decision, OrgUnit, Person, PersonRole, PersonState, Process
from aikom.services.approvals import FIRST_SIGNIN_STEP, ApprovalRequest, create_task
from aikom.services.outbox import enqueue
from aikom.services.persons import PersonData, create_person, find_persons_by_rnokpp, keyring, role_title
from aikom.settings import Settings

CURRENT = (PersonState.PENDING, PersonState.ACTIVE)


class PersonAlreadyInRole(DomainError):
    """A person holds one card of a role at a time (the seeds: one director per school, and so on)."""

    code = "person_already_in_role"

    def __init__(self, role: PersonRole, unit_name: str) -> None:
        super().__init__(
            f"РНОКПП: особа з цим РНОКПП уже має чинну картку «{role_title(role)}» — {unit_name}. "
            "Спершу ту картку треба деактивувати (або замінити керівника).",
            field="rnokpp",
            role=role.value,
        )


def seal_rnokpp(*, process: Process, field: str, rnokpp: str, settings: Settings | None = None) -> str:
    """A РНОКПП sealed to the process row (base64), to keep in its parameters."""
    sealed = seal(
        rnokpp.encode("ascii"), context=field_context("process", field, process.id), keyring=keyring(settings)
    )
    return base64.b64encode(sealed).decode()


def open_rnokpp(*, process: Process, field: str, sealed: str | None, settings: Settings | None = None) -> str:
    """The РНОКПП sealed by `seal_rnokpp`."""
    if sealed is None:
        raise DomainError("У процесі немає РНОКПП особи: процес треба почати заново.")
    return open_sealed(
        base64.b64decode(sealed),
        context=field_context("process", field, process.id),
        keyring=keyring(settings),
    ).decode("ascii")


def check_not_in_role(
    session: Session, *, rnokpp: str, role: PersonRole, settings: Settings | None = None
) -> None:
    """PersonAlreadyInRole when a current card of `role` already carries this РНОКПП."""
    for person in find_persons_by_rnokpp(session=session, rnokpp=rnokpp, settings=settings):
        if person.role == role and person.state in CURRENT:
            unit = session.get(OrgUnit, person.org_unit_id)
            raise PersonAlreadyInRole(role, unit.name if unit else f"одиниця № {person.org_unit_id}")


def appoint_person(
    *,
    session: Session,
    process: Process,
    account: Account,
    role: PersonRole,
    data: PersonData,
    actor: Actor,
    step_title: str,
    due_business_days: int,
    role_title_uk: str,
    appointed_by_id: int | None = None,
    settings: Settings | None = None,
) -> tuple[Person, ApprovalTask]:
    """The card (PENDING), its first-sign-in step (the sign-in closes it) and the appointment email."""
    person = create_person(
        session=session,
        account=account,
        role=role,
        data=data,
        actor_label=actor.label,
        actor_person_id=actor.person_id,
        appointed_by_id=appointed_by_id,
        settings=settings,
        process_id=process.id,
    )
    unit = session.get_one(OrgUnit, account.org_unit_id)
    task = create_task(
        session=session,
        request=ApprovalRequest(
            process_id=process.id,
            step_key=FIRST_SIGNIN_STEP,
            title=step_title,
            allowed_roles=[role],
            scope_org_unit_id=unit.id,
            assignee_person_id=person.id,
            due_business_days=due_business_days,
            decisions=[Decision.CONFIRM],
            details={"person": person.full_name},
        ),
        notify=False,  # the appointment email below says what to do
    )
    enqueue(
        session=session,
        template="person_appointed",
        to_address=person.email,
        variables=PersonAppointed(
            person_name=person.full_name,
            role_title=role_title_uk,
            org_name=unit.name,
            deadline=format_kyiv(task.due_at),
        ),
        idempotency_key=f"process-{process.id}-person-{person.id}-appointed",
    )
    session.flush()
    return person, task


def persons_of(session: Session, unit_id: int, role: PersonRole) -> list[Person]:
    """The unit's current (pending or active) persons of a role."""
    return list(
        session.scalars(
            select(Person)
            .where(Person.org_unit_id == unit_id, Person.role == role, Person.state.in_(CURRENT))
            .order_by(Person.id)
        )
    )
