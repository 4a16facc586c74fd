"""Support requests that start a process (DESIGN §3 item 10): a request whose type maps to a declared
process (`support.PROCESS_FOR_TYPE`) is started FROM the request by the desk, on the requester's behalf,
with its parameters prefilled from what the request carries (the process's own `ProcessSpec.from_request`
says how); the request then shows the state of that process. Also: the persons the desk may file a
request for. Services take keyword-only arguments and the session, and never commit.

Mapping another request type to a process is one entry in `PROCESS_FOR_TYPE` (and, for a prefill beyond
`support_request_id`, a `from_request` function declared in that process's own module).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.core.errors import DomainError, ValidationFailed
from aikom.models import Person, PersonState, Process, SupportRequest
from aikom.processes import ProcessNotStartable, ProcessSpec, all_specs, get_spec, load
from aikom.services import audit
from aikom.services.approvals import PersonNotActive
from aikom.services.processes import FINAL_STATES, STATE_LABELS_UK
from aikom.services.support import (
    DESK_ROLES,
    FINISHED_STATES,
    PROCESS_FOR_TYPE,
    TYPE_LABELS_UK,
    TransitionNotAllowed,
    add_note,
    desk_person,
    get_request,
    is_desk,
)

REQUESTER_MATCHES = 20


# --- refusals --------------------------------------------------------------------------------------------


class RequestStartsNoProcess(DomainError):
    """Only a request of a type that maps to a process starts one."""

    code = "request_starts_no_process"

    def __init__(self, request: SupportRequest) -> None:
        super().__init__(
            f"Звернення №{request.id}: тип «{TYPE_LABELS_UK[request.type]}» не запускає жодного процесу.",
            request_id=request.id,
        )


class RequestHasLiveProcess(DomainError):
    """One live process per request: a second start waits until the first one has finished."""

    code = "request_has_live_process"

    def __init__(self, request: SupportRequest, process: Process) -> None:
        super().__init__(
            f"Звернення №{request.id}: за ним уже триває процес №{process.id} "
            f"(«{STATE_LABELS_UK[process.state]}») — другий не запускається, доки цей не завершиться.",
            request_id=request.id,
            process_id=process.id,
        )


class RequesterNotAPerson(DomainError):
    """A process is started on behalf of a person: a request from a bare email address has none."""

    code = "requester_not_a_person"

    def __init__(self, request: SupportRequest) -> None:
        super().__init__(
            f"Звернення №{request.id}: заявник — лише адреса {request.requester_email or '—'}, а не особа "
            "АІКОМ; процес запускається від імені особи (попросіть заявника подати звернення з кабінету).",
            request_id=request.id,
        )


class RequesterNotSelectable(ValidationFailed):
    """The desk files a request for an active person who is not desk staff."""

    def __init__(self, name: str) -> None:
        super().__init__(
            "requester", f"Заявник: «{name}» — не активна особа поза службою підтримки; оберіть іншу особу."
        )


# --- what the request shows ------------------------------------------------------------------------------


class RequestProcess(BaseModel):
    """The process started from a request, as the request shows it."""

    id: int
    type: str
    title: str
    state: str
    state_uk: str
    live: bool
    current_step: str | None
    current_step_uk: str | None
    path: str  # the dashboard's process page


def spec_for(request: SupportRequest) -> ProcessSpec | None:
    """The process a request's type starts (None: it starts none)."""
    process_type = PROCESS_FOR_TYPE.get(request.type)
    return get_spec(process_type) if process_type else None


def live_process(session: Session, request: SupportRequest) -> Process | None:
    """The process attached to the request while it is still live."""
    if request.process_id is None:
        return None
    process = session.get(Process, request.process_id)
    return process if process is not None and process.state not in FINAL_STATES else None


def request_process(session: Session, request: SupportRequest) -> RequestProcess | None:
    """The state of the process started from the request (its last one), if any."""
    process = session.get(Process, request.process_id) if request.process_id is not None else None
    if process is None:
        return None
    spec = next((s for s in _specs() if s.type == process.type), None)
    step = process.current_step if process.state not in FINAL_STATES else None
    return RequestProcess(
        id=process.id,
        type=process.type,
        title=process.title or (spec.title_uk if spec else process.type),
        state=process.state.value,
        state_uk=STATE_LABELS_UK[process.state],
        live=process.state not in FINAL_STATES,
        current_step=step,
        current_step_uk=(spec.step_title(step) if spec else step) if step else None,
        path=f"/process?id={process.id}",
    )


def _specs() -> tuple[ProcessSpec, ...]:
    return all_specs(demo=True)


def may_start(session: Session, person: Person, request: SupportRequest) -> bool:
    """Whether the desk's «Запустити процес» is offered: a desk person, a mapped type, an open request
    from a person, and no live process attached."""
    return (
        is_desk(person)
        and spec_for(request) is not None
        and request.state not in FINISHED_STATES
        and request.requester_person_id is not None
        and live_process(session, request) is None
    )


# --- the start -------------------------------------------------------------------------------------------


class StartForm(BaseModel):
    """What the desk's start form opens with: the process, the requester, the prefilled parameters."""

    request_id: int
    process_type: str
    process_title: str
    requester_id: int
    requester: str
    params: dict[str, Any]


def _checked(
    session: Session, actor: Actor, request_id: int, *, lock: bool
) -> tuple[Person, SupportRequest, ProcessSpec, Person]:
    desk = desk_person(session=session, actor=Actor(person_id=actor.person_id, label=actor.label))
    request = get_request(session, request_id, lock=lock)
    spec = spec_for(request)
    if spec is None:
        raise RequestStartsNoProcess(request)
    if request.state in FINISHED_STATES:
        raise TransitionNotAllowed(request, "запустити процес")
    live = live_process(session, request)
    if live is not None:
        raise RequestHasLiveProcess(request, live)
    requester = (
        session.get(Person, request.requester_person_id) if request.requester_person_id is not None else None
    )
    if requester is None:
        raise RequesterNotAPerson(request)
    if not spec.may_be_started_by(requester.role):
        raise ProcessNotStartable(spec)
    if requester.state != PersonState.ACTIVE:
        raise PersonNotActive(requester)
    return desk, request, spec, requester


def prefill(*, session: Session, request: SupportRequest, spec: ProcessSpec) -> dict[str, Any]:
    """The raw parameters a start from `request` opens with (the process's own `from_request`)."""
    params: dict[str, Any] = {}
    if spec.from_request is not None:
        params.update(load(spec.from_request)(session=session, request=request))
    if "support_request_id" in spec.params.model_fields:
        params["support_request_id"] = request.id
    return params


def start_form(*, session: Session, actor: Actor, request_id: int) -> StartForm:
    """The start form of the request's process, prefilled; refused as the start itself would be."""
    _, request, spec, requester = _checked(session, actor, request_id, lock=False)
    return StartForm(
        request_id=request.id,
        process_type=spec.type,
        process_title=spec.title_uk,
        requester_id=requester.id,
        requester=requester.full_name,
        params=prefill(session=session, request=request, spec=spec),
    )


def start_from_request(
    *, session: Session, actor: Actor, request_id: int, params: Mapping[str, Any] | None = None
) -> Process:
    """Start the request's process on the requester's behalf: the prefill, overridden by `params`,
    validated (pydantic ValidationError names every bad field); the requester is who the process is
    for, the desk member who pressed it is who started it. The request links the process and gets an
    internal note; both are audited."""
    desk, request, spec, requester = _checked(session, actor, request_id, lock=True)
    raw = {**prefill(session=session, request=request, spec=spec), **dict(params or {})}
    if "support_request_id" in spec.params.model_fields:
        raw["support_request_id"] = request.id  # always this request, whatever was typed
    parsed = spec.parse(raw)
    behalf = (
        Actor(person_id=desk.id, label=desk.full_name)
        if requester.id == desk.id
        else Actor(
            person_id=desk.id,
            label=desk.full_name,
            on_behalf_of_id=requester.id,
            on_behalf_of_label=requester.full_name,
        )
    )
    process = spec.start_service()(session=session, actor=behalf, params=parsed)
    request.process_id = process.id
    add_note(
        session=session,
        actor=behalf,
        request_id=request.id,
        body=(
            f"Запущено процес №{process.id} «{spec.title_uk}» від імені {requester.full_name} "
            f"(запустив(ла): {desk.full_name})."
        ),
    )
    audit.record(
        session=session,
        action="support.process_started",
        object_type="support_request",
        object_id=request.id,
        details={"state": request.state.value, "process_id": process.id, "process_type": spec.type},
        actor=behalf,
    )
    session.flush()
    return process


# --- filing for someone ----------------------------------------------------------------------------------


def requester_choices(
    *, session: Session, query: str, limit: int = REQUESTER_MATCHES
) -> list[tuple[int, str]]:
    """Active persons (not desk staff) whose name or email contains every word of `query`, or whose card
    number it is: whom the desk may file a request for. «ПІБ — email»."""
    words = query.split()
    if not words:
        return []
    stmt = select(Person).where(Person.state == PersonState.ACTIVE, Person.role.not_in(DESK_ROLES))
    if len(words) == 1 and words[0].isdigit():
        stmt = stmt.where(Person.id == int(words[0]))
        words = []
    for word in words:
        pattern = f"%{word.replace('%', '').replace('_', '')}%"
        stmt = stmt.where(
            or_(Person.full_name.ilike(pattern), func.lower(Person.email).like(pattern.lower()))
        )
    people = session.scalars(stmt.order_by(Person.full_name, Person.id).limit(limit)).all()
    return [(p.id, f"{p.full_name} — {p.email}") for p in people]


def filing_actor(*, session: Session, actor: Actor, requester_id: int) -> Actor:
    """The desk member acting for `requester_id` (an active person outside the desk)."""
    desk = desk_person(session=session, actor=actor)
    requester = session.get(Person, requester_id)
    if requester is None or requester.state != PersonState.ACTIVE or requester.role in DESK_ROLES:
        raise RequesterNotSelectable(requester.full_name if requester else f"№{requester_id}")
    return Actor(
        person_id=desk.id,
        label=desk.full_name,
        on_behalf_of_id=requester.id,
        on_behalf_of_label=requester.full_name,
    )
