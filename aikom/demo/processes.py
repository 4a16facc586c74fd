"""The demo process: the smallest process with a human step (another admin in scope approves), to try
the engine end to end. Declared only in demo mode."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.models import PersonRole, Process
from aikom.processes.registry import ProcessSpec

TYPE = "demo-approval"
ADMIN_ROLES = (
    PersonRole.INSTITUTE_ADMIN,
    PersonRole.OBLAST_ADMIN,
    PersonRole.RAYON_ADMIN,
    PersonRole.HROMADA_ADMIN,
)


class DemoApprovalParams(BaseModel):
    """A demo request: about which unit, how it is called, how long the approval may take."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="forbid")

    org: int | None = Field(default=None, description="Організація (номер), якої стосується запит")
    title: str | None = Field(default=None, max_length=200, description="Назва кроку погодження")
    due_in_seconds: int | None = Field(default=None, gt=0, description="Строк розгляду, секунди")
    due_business_days: int = Field(default=3, gt=0, le=30, description="Строк розгляду, робочі дні")


def start_demo_approval(*, session: Session, actor: Actor, params: DemoApprovalParams) -> Process:
    """Record a demo request about `org` (default: the requester's own unit)."""
    from aikom.models import Person
    from aikom.services.processes import create_process

    requester = session.get(Person, actor.requester_id) if actor.requester_id is not None else None
    org = params.org if params.org is not None else (requester.org_unit_id if requester else None)
    return create_process(
        session=session,
        type=TYPE,
        actor=actor,
        subject_org_unit_id=org,
        parameters=params.model_dump(mode="json"),
        title=f"Демонстраційний запит: {params.title}" if params.title else None,
    )


SPEC = ProcessSpec(
    type=TYPE,
    title_uk="Демонстраційний запит на погодження",
    flow="aikom.demo.flows:demo_approval",
    params=DemoApprovalParams,
    start="aikom.demo.processes:start_demo_approval",
    starter_roles=frozenset(ADMIN_ROLES),
    who_may_start_uk="демонстраційний запит подає адміністратор (ІОА або ОУО).",
    form="aikom.demo.forms:render",
    description_uk="Інший адміністратор у межах зони відповідальності погоджує або відхиляє запит.",
    step_days={"approve": 3},
    step_titles_uk={"approve": "Погодження запиту"},
    demo=True,
)
