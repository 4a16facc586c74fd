"""Email templates: one pydantic model of variables per template; Jinja2, autoescaped HTML + text."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from pydantic import BaseModel

TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "templates" / "email"


class BaseKeyIssued(BaseModel):
    """The base access key of a new account, sent to the unit's official email.

    The key itself is the message's secret: the outbox keeps it encrypted and fills `base_key` in only
    when the message is sent (see `SECRET_VARIABLES`).
    """

    org_name: str
    addressee: str  # «Керівнику закладу», or the person the card is for
    base_key: str = ""
    deadline: str | None = None  # when the first sign-in is due (None: no card yet, e.g. a rollout)


class ApprovalRequested(BaseModel):
    """A human step waits for a decision."""

    recipient_name: str
    task_title: str
    process_title: str
    requester: str = "—"
    due: str
    task_id: int
    link: str | None = None
    page_title: str = "Мої завдання"  # the page the step is decided on (a screen of its own or the queue)


class ApprovalNotice(BaseModel):
    """About a waiting step: a reminder, an escalation to the unit above, a hand-over in an absence."""

    recipient_name: str
    subject: str  # «нагадування», «завдання передано вам (прострочено)» …
    reason: str
    task_title: str
    process_title: str
    requester: str = "—"
    due: str
    task_id: int
    link: str | None = None
    page_title: str = "Мої завдання"  # the page the step is decided on (a screen of its own or the queue)


class PersonAppointed(BaseModel):
    """A new card (director, deputy) was created: the person must sign in with КЕП."""

    person_name: str
    role_title: str
    org_name: str
    deadline: str


class ProcessOutcome(BaseModel):
    """A process ended: told to the requester (with what it changed, line by line)."""

    recipient_name: str
    process_title: str
    outcome: str
    comment: str | None = None
    facts: list[str] = []
    link: str | None = None


class PersonNotice(BaseModel):
    """A person is told what a process did to their card (a former director, a deactivated deputy)."""

    recipient_name: str
    subject: str
    lines: list[str]


class AccountDeactivatedNotice(BaseModel):
    """An account was deactivated: told to the ОУО that manages the unit."""

    recipient_name: str
    unit_name: str
    reason: str
    deactivated_at: str
    successor: str | None = None
    final: bool = False  # a school's account: never used again
    lines: list[str] = []
    link: str | None = None


class DigestBreach(BaseModel):
    """One overdue step in the weekly digest, with the link to its process."""

    process_id: int
    process_title: str
    step_title: str
    who_may_decide: str
    area: str | None = None
    due: str
    overdue: str | None = None  # «26,5 год», «3 дн. 4 год»; None: escalated, due again later
    escalation_level: int = 0
    link: str


class MonitorDigest(BaseModel):
    """The weekly monitor digest to a manager: last week's figures of their scope and the breaches now."""

    recipient_name: str
    scope_name: str
    process_title: str | None = None
    week_label: str  # «23.11.2026 – 29.11.2026»
    iso_week: str  # «2026-W48»
    started: int
    completed: int
    rejected: int
    expired: int
    other_finished: int = 0  # stopped with an error or cancelled
    backlog: int  # open processes at the week's end
    overdue: int  # open steps past their deadline now
    escalated: int  # open steps handed up the cascade now
    as_of: str
    breaches: list[DigestBreach] = []
    link: str


class KepExpiring(BaseModel):
    """A person's КЕП ends soon: told to the person (`about_self`) and to each admin of their ОУО."""

    recipient_name: str
    about_self: bool
    person_name: str
    role_title: str
    org_name: str
    not_after: str  # «05.12.2026 18:00 за київським часом»
    days_left: int
    threshold_days: int  # 30 or 7
    issuer: str | None = None
    link: str


class SupportReply(BaseModel):
    """A message of a support request's thread to its requester: a reply, or the acknowledgement (`ack`)."""

    request_id: int
    subject: str
    body: str = ""  # plain text; the HTML part escapes it
    kind: str = "reply"  # "reply" | "ack"
    state_label: str
    link: str | None = None


class OisConnectionNotice(BaseModel):
    """About an ОІС's connection, to its operator: returned for fixes, connected, refused."""

    recipient_name: str
    system_name: str
    headline: str
    lines: list[str]
    link: str | None = None


class MailCheck(BaseModel):
    """A message to check that delivery works."""

    recipient_name: str


class OisNotice(BaseModel):
    """A connected ОІС's operator is told what the Institute decided: a phase, a suspension, an end."""

    recipient_name: str
    subject: str
    system_name: str
    lines: list[str]


class OisSchoolNotice(BaseModel):
    """A school whose active grant an ОІС decision affects (suspension, disconnection), to its director."""

    recipient_name: str
    school_name: str
    system_name: str
    company_name: str
    subject: str
    lines: list[str]
    link: str | None = None


# Templates whose one variable is a secret: never stored in clear (see `aikom.services.outbox.enqueue`).
SECRET_VARIABLES: dict[str, str] = {"base_key_issued": "base_key"}

TEMPLATES: dict[str, type[BaseModel]] = {
    "base_key_issued": BaseKeyIssued,
    "approval_requested": ApprovalRequested,
    "approval_notice": ApprovalNotice,
    "person_appointed": PersonAppointed,
    "process_outcome": ProcessOutcome,
    "person_notice": PersonNotice,
    "account_deactivated": AccountDeactivatedNotice,
    "monitor_digest": MonitorDigest,
    "mail_check": MailCheck,
    "kep_expiring": KepExpiring,
    "support_reply": SupportReply,
    "ois_notice": OisNotice,
    "ois_school_notice": OisSchoolNotice,
    "ois_connection_notice": OisConnectionNotice,
}


@dataclass(frozen=True)
class RenderedEmail:
    """A message ready to send."""

    subject: str
    text: str
    html: str


@lru_cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATE_DIR),
        autoescape=select_autoescape(enabled_extensions=("html", "html.j2"), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def validate_variables(template: str, variables: BaseModel | dict[str, object]) -> dict[str, object]:
    """Check `variables` against the template's model; return them as plain JSON-able data."""
    model = TEMPLATES.get(template)
    if model is None:
        raise KeyError(f"unknown email template {template!r}")
    data = variables.model_dump() if isinstance(variables, BaseModel) else variables
    return model.model_validate(data).model_dump(mode="json")


def render(template: str, variables: dict[str, object]) -> RenderedEmail:
    """Render subject, text and HTML parts of a template."""
    data = validate_variables(template, variables)
    env = _environment()
    subject = env.get_template(f"{template}.subject.txt").render(**data).strip()
    text = env.get_template(f"{template}.txt").render(**data)
    html = env.get_template(f"{template}.html.j2").render(**data)
    return RenderedEmail(subject=subject, text=text, html=html)
