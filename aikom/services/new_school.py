"""The new-school process (DESIGN §3 item 5): its start (a support request of type `new_school`), the
registry findings the verifier decides on, the school card, and the support request's outcome.

Services take keyword-only arguments and the session and never commit.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, Field
from rapidfuzz import fuzz
from sqlalchemy import select
from sqlalchemy.orm import Session
from stdnum.ua import edrpou as edrpou_rules

from aikom.core.actor import Actor
from aikom.core.branch_names import settlement_word, stem
from aikom.core.errors import DomainError, NotFound, NotInScope, RoleNotAllowed, ValidationFailed
from aikom.imports.source import normalize_name
from aikom.models import (
    ApprovalTask,
    Decision,
    MessageDirection,
    MessageVisibility,
    OrgLevel,
    OrgStatus,
    OrgUnit,
    Person,
    Process,
    SupportChannel,
    SupportMessage,
    SupportRequest,
    SupportRequestState,
    SupportRequestType,
    TaskState,
)
from aikom.processes.new_school import SPEC, TYPE, NewSchoolFacts, NewSchoolParams
from aikom.services import audit, support
from aikom.services.org import LEVEL_UK, is_within
from aikom.services.persons import ADMIN_ROLE_OF_LEVEL
from aikom.services.processes import create_process, process_facts
from aikom.services.provisioning import LIVE, requesting_person

EDUCATION_BODY_LEVELS = (OrgLevel.OBLAST, OrgLevel.RAYON, OrgLevel.HROMADA, OrgLevel.DISTRICT)
SCHOOL_LEVELS = (OrgLevel.SCHOOL, OrgLevel.BRANCH)
STATUS_LABELS_UK = {
    OrgStatus.ACTIVE: "діє",
    OrgStatus.LIQUIDATED: "ліквідовано",
    OrgStatus.REORGANIZED: "реорганізовано",
    OrgStatus.SUSPENDED: "призупинено",
}
EDEBO_MATCH_MIN = 70.0  # below this a school is not worth showing beside the request
EDEBO_MATCHES_SHOWN = 5
SETTLEMENT_FITS = 85.0


# --- one exception per rule -------------------------------------------------------------------


class EdrpouMalformed(ValidationFailed):
    """An ЄДРПОУ is exactly eight digits."""

    def __init__(self, value: str) -> None:
        super().__init__("edrpou", f"Код ЄДРПОУ: «{value}» — має бути рівно 8 цифр.")


class EdrpouBadCheckDigit(ValidationFailed):
    """The ЄДРПОУ's last digit is its check digit."""

    def __init__(self, value: str, expected: str) -> None:
        super().__init__(
            "edrpou",
            f"Код ЄДРПОУ: «{value}» має неправильну контрольну цифру (очікувалась {expected}) — "
            "перевірте код за ЄДР.",
        )


class EdrpouIsActiveSchool(DomainError):
    """A code that already belongs to an active unit needs no new card."""

    code = "edrpou_is_active_unit"

    def __init__(self, unit: OrgUnit) -> None:
        super().__init__(
            f"Код ЄДРПОУ: {unit.edrpou} уже належить чинній одиниці АІКОМ — «{unit.name}» "
            f"({LEVEL_UK[unit.level]}, № {unit.id}); нова картка не потрібна.",
            org_unit_id=unit.id,
        )


class NotEducationBodyAdmin(RoleNotAllowed):
    """Only an admin of an active ОУО files a new school."""

    def __init__(self) -> None:
        super().__init__(f"{SPEC.title_uk}: {SPEC.who_may_start_uk}")


class NewSchoolAlreadyRequested(DomainError):
    """One live new-school process per ЄДРПОУ."""

    code = "new_school_already_requested"

    def __init__(self, process_id: int) -> None:
        super().__init__(
            f"Код ЄДРПОУ: для цього закладу вже триває процес «{SPEC.title_uk}» (№ {process_id}).",
            process_id=process_id,
        )


class RequestNotForNewSchool(ValidationFailed):
    """A process is started only from an open request of type new_school that has no live process."""

    def __init__(self, request_id: int, reason_uk: str) -> None:
        super().__init__("support_request_id", f"Звернення №{request_id}: {reason_uk}")


class RequestOutOfScope(NotInScope):
    """The request is about a unit outside the requester's territory."""

    def __init__(self, request_id: int) -> None:
        super().__init__(
            f"Звернення №{request_id}: стосується організації поза територією заявника.",
            request_id=request_id,
        )


# --- registry findings ------------------------------------------------------------------------


class UnitRef(BaseModel):
    """An org unit as the verifier sees it."""

    id: int
    name: str
    level: str
    status: str
    edrpou: str | None = None
    settlement: str | None = None

    @classmethod
    def of(cls, unit: OrgUnit) -> UnitRef:
        """The reference of `unit`."""
        return cls(
            id=unit.id,
            name=unit.name,
            level=unit.level.value,
            status=unit.status.value,
            edrpou=unit.edrpou,
            settlement=unit.settlement,
        )

    def label(self) -> str:
        """«Назва (заклад освіти, ліквідовано, № 12)»."""
        level = LEVEL_UK[OrgLevel(self.level)]
        return f"«{self.name}» ({level}, {STATUS_LABELS_UK[OrgStatus(self.status)]}, № {self.id})"


class EdeboMatch(BaseModel):
    """A school in the ЄДЕБО register whose name (and territory) resembles the request."""

    unit: UnitRef
    name_score: float
    same_settlement: bool
    score: float


class NewSchoolFindings(BaseModel):
    """What the registers hold about a requested school (a pure read)."""

    edrpou: str
    edrpou_valid: bool
    edrpou_problem: str | None = None
    active_unit: UnitRef | None = None
    former_units: list[UnitRef] = Field(default_factory=list)
    edebo_matches: list[EdeboMatch] = Field(default_factory=list)
    settlement_unit: UnitRef | None = None

    @property
    def blocking(self) -> str | None:
        """Why the school cannot be created as requested (None: nothing blocks it)."""
        if not self.edrpou_valid:
            return self.edrpou_problem
        if self.active_unit is not None:
            return f"код уже належить чинній одиниці {self.active_unit.label()}"
        return None

    def rows(self) -> list[list[str]]:
        """The findings as [label, value] rows (an approval step's `details["shown"]`)."""
        rows = [
            [
                "ЄДРПОУ: формат і контрольна цифра",
                "правильні" if self.edrpou_valid else f"ПОМИЛКА — {self.edrpou_problem}",
            ],
            [
                "ЄДРПОУ серед чинних одиниць АІКОМ",
                f"УВАГА: уже є — {self.active_unit.label()}" if self.active_unit else "немає (код вільний)",
            ],
            [
                "Ліквідовані / реорганізовані з цим кодом",
                "; ".join(u.label() for u in self.former_units) if self.former_units else "немає",
            ],
        ]
        if self.edebo_matches:
            for n, match in enumerate(self.edebo_matches, 1):
                place = ", той самий населений пункт" if match.same_settlement else ""
                code = f", ЄДРПОУ {match.unit.edrpou}" if match.unit.edrpou else ""
                rows.append(
                    [
                        f"Схожий заклад у ЄДЕБО {n}",
                        f"{match.unit.label()}{code}: збіг {match.score:.0f}% "
                        f"(назва {match.name_score:.0f}%{place})",
                    ]
                )
        else:
            rows.append(["Схожі заклади в ЄДЕБО", "не знайдено"])
        rows.append(
            [
                "Громада населеного пункту (КАТОТТГ)",
                self.settlement_unit.label() if self.settlement_unit else "не визначено за назвою",
            ]
        )
        return rows


def edrpou_problem(value: str) -> str | None:
    """What is wrong with an ЄДРПОУ (format, check digit), in Ukrainian; None when it is valid."""
    if len(value) != 8 or not value.isdigit():
        return EdrpouMalformed(value).message_uk
    if not edrpou_rules.is_valid(value):
        return EdrpouBadCheckDigit(value, edrpou_rules.calc_check_digit(value)).message_uk
    return None


def check_edrpou(value: str) -> str:
    """The ЄДРПОУ, or the rule it breaks (naming the field)."""
    value = value.strip()
    if len(value) != 8 or not value.isdigit():
        raise EdrpouMalformed(value)
    if not edrpou_rules.is_valid(value):
        raise EdrpouBadCheckDigit(value, edrpou_rules.calc_check_digit(value))
    return value


def _oblast_of(unit: OrgUnit) -> int | None:
    return unit.id if unit.level == OrgLevel.OBLAST else unit.oblast_id


def _name_key(name: str) -> str:
    return " ".join(normalize_name(name).replace("'", "’").split())


def _edebo_matches(session: Session, name: str, settlement: str, oblast_id: int | None) -> list[EdeboMatch]:
    query = select(OrgUnit).where(OrgUnit.level.in_(SCHOOL_LEVELS))
    if oblast_id is not None:
        query = query.where(OrgUnit.oblast_id == oblast_id)
    wanted = _name_key(name)
    place = settlement_word(settlement)
    matches: list[EdeboMatch] = []
    for unit in session.scalars(query):
        name_score = float(fuzz.token_set_ratio(wanted, _name_key(unit.name)))
        there = settlement_word(unit.settlement)
        same = bool(place and there and fuzz.ratio(place, there) >= SETTLEMENT_FITS)
        score = round(min(100.0, 0.85 * name_score + (15.0 if same else 0.0)), 1)
        if score >= EDEBO_MATCH_MIN:
            matches.append(
                EdeboMatch(
                    unit=UnitRef.of(unit), name_score=round(name_score, 1), same_settlement=same, score=score
                )
            )
    matches.sort(key=lambda m: (-m.score, m.unit.id))
    return matches[:EDEBO_MATCHES_SHOWN]


def _place_fit(place: str, hromada_stem: str) -> float:
    """How well a settlement's stem names a hromada (0–100): «бердянськ» fits «Бердянська» (stem «бердян»)."""
    shorter, longer = sorted((place, hromada_stem), key=len)
    if len(shorter) >= 5 and longer.startswith(shorter):
        return 100.0
    return float(fuzz.ratio(place, hromada_stem))


def settlement_unit(session: Session, *, settlement: str, requesting_unit: OrgUnit) -> OrgUnit | None:
    """The hromada (or city district) a settlement names, within the requester's oblast; one within the
    requesting unit comes first."""
    place = settlement_word(settlement)
    oblast_id = _oblast_of(requesting_unit)
    if not place or oblast_id is None:
        return None
    candidates = session.scalars(
        select(OrgUnit)
        .where(OrgUnit.level.in_((OrgLevel.HROMADA, OrgLevel.DISTRICT)), OrgUnit.oblast_id == oblast_id)
        .order_by(OrgUnit.id)
    ).all()
    fitting: list[tuple[float, bool, OrgUnit]] = []
    for unit in candidates:
        words = _name_key(unit.name).split()
        if not words:
            continue
        score = _place_fit(place, stem(words[0]))
        if score >= SETTLEMENT_FITS:
            inside = unit.id == requesting_unit.id or is_within(session, unit.id, requesting_unit.id)
            fitting.append((score, inside, unit))
    if not fitting:
        return None
    fitting.sort(key=lambda f: (not f[1], -f[0], f[2].status != OrgStatus.ACTIVE, f[2].id))
    return fitting[0][2]


def verify_new_school(
    *, session: Session, edrpou: str, name: str, settlement: str, requesting_unit_id: int
) -> NewSchoolFindings:
    """What the registers hold about a requested school: the code's format and check digit, an active unit
    with that code, liquidated/reorganised units with it, ЄДЕБО schools by name and territory (ranked),
    and the hromada of the settlement. Reads only."""
    requesting = session.get(OrgUnit, requesting_unit_id)
    if requesting is None:
        raise NotFound(f"Організацію №{requesting_unit_id} не знайдено.")
    code = edrpou.strip()
    problem = edrpou_problem(code)
    same_code = (
        session.scalars(select(OrgUnit).where(OrgUnit.edrpou == code).order_by(OrgUnit.id)).all()
        if len(code) == 8 and code.isdigit()
        else []
    )
    active = next((u for u in same_code if u.status == OrgStatus.ACTIVE), None)
    hromada = settlement_unit(session, settlement=settlement, requesting_unit=requesting)
    return NewSchoolFindings(
        edrpou=code,
        edrpou_valid=problem is None,
        edrpou_problem=problem,
        active_unit=UnitRef.of(active) if active else None,
        former_units=[UnitRef.of(u) for u in same_code if u.status != OrgStatus.ACTIVE],
        edebo_matches=_edebo_matches(session, name, settlement, _oblast_of(requesting)),
        settlement_unit=UnitRef.of(hromada) if hromada else None,
    )


# --- the start --------------------------------------------------------------------------------


def _active_unit_with(session: Session, edrpou: str) -> OrgUnit | None:
    return session.scalars(
        select(OrgUnit).where(OrgUnit.edrpou == edrpou, OrgUnit.status == OrgStatus.ACTIVE)
    ).first()


def _running(session: Session, edrpou: str) -> int | None:
    for process_id, parameters in session.execute(
        select(Process.id, Process.parameters).where(Process.type == TYPE, Process.state.in_(LIVE))
    ):
        if parameters.get("edrpou") == edrpou:
            return int(process_id)
    return None


REQUEST_OPENING = "Прошу створити в АІКОМ картку закладу освіти, якого немає в довіднику."


def _request_body(params: NewSchoolParams, edrpou: str) -> str:
    lines = [
        REQUEST_OPENING,
        f"Код ЄДРПОУ: {edrpou}",
        f"Назва: {params.name}",
        f"Населений пункт: {params.settlement}",
    ]
    if params.edebo_id:
        lines.append(f"Код в ЄДЕБО: {params.edebo_id}")
    if params.comment:
        lines.append(f"Коментар: {params.comment}")
    return "\n".join(lines)


# --- a start prefilled from a request ---------------------------------------------------------

_LABEL = r"\s*[:\-–—]\s*(?P<value>.+?)\s*$"
_FIELD_LINES: dict[str, re.Pattern[str]] = {
    "name": re.compile(r"^\s*(?:повна\s+)?назва(?:\s+закладу)?" + _LABEL, re.IGNORECASE),
    "settlement": re.compile(r"^\s*(?:населений\s+пункт|нас\.\s*пункт|місто|село|селище)" + _LABEL, re.I),
    "comment": re.compile(r"^\s*коментар" + _LABEL, re.IGNORECASE),
}
_EDRPOU = re.compile(r"(?:ЄДРПОУ|ЕДРПОУ)\D{0,20}?(\d{8})(?!\d)", re.IGNORECASE)
_EDEBO = re.compile(r"ЄДЕБО\D{0,20}?(\d{1,20})(?!\d)", re.IGNORECASE)
_CODE_LINE = re.compile(r"^\s*(?:код\s+)?(?:в\s+)?(?:ЄДРПОУ|ЕДРПОУ|ЄДЕБО)(?:\s+закладу)?\s*[:\-–—]", re.I)
_LONE_CODE = re.compile(r"(?<!\d)\d{8}(?!\d)")
_SUBJECT_PREFIX = re.compile(r"^\s*новий\s+заклад(?:\s+освіти)?\s*[:\-–—]\s*(?P<value>.+)$", re.IGNORECASE)
_LIMITS = {"edrpou": 8, "name": 500, "settlement": 300, "edebo_id": 20, "comment": 5000}


def fields_from_text(text: str) -> dict[str, str]:
    """What a requester's free text says about the school: «Код ЄДРПОУ: …», «Назва: …», «Населений
    пункт: …», «Код в ЄДЕБО: …», «Коментар: …» (as the dashboard writes a request), an eight-digit code
    after «ЄДРПОУ» (or the only eight-digit number in the text); lines that match nothing become the
    comment. Only what is there is returned."""
    found: dict[str, str] = {}
    rest: list[str] = []
    for line in text.replace("\r\n", "\n").split("\n"):
        edrpou = _EDRPOU.search(line)
        edebo = _EDEBO.search(line)
        if edrpou:
            found["edrpou"] = edrpou.group(1)
        if edebo:
            found["edebo_id"] = edebo.group(1)
        labelled = next(((k, p.match(line)) for k, p in _FIELD_LINES.items() if p.match(line)), None)
        if labelled is not None and labelled[1] is not None:
            found[labelled[0]] = labelled[1].group("value")
        elif not _CODE_LINE.match(line) and line.strip() and line.strip() != REQUEST_OPENING:
            rest.append(line.strip())
    if "edrpou" not in found:
        codes = set(_LONE_CODE.findall(text))
        if len(codes) == 1:
            found["edrpou"] = codes.pop()
    if "comment" not in found and rest:
        found["comment"] = "\n".join(rest)
    return {key: value[: _LIMITS[key]] for key, value in found.items()}


def params_from_request(*, session: Session, request: SupportRequest) -> dict[str, Any]:
    """The new-school start form prefilled from a support request of type new_school: what an earlier
    start stored (`payload["new_school"]`), then what the requester wrote — the subject («Новий заклад
    освіти: назва»), the opening text and their later public messages, the later winning."""
    stored = request.payload.get("new_school")
    prefilled: dict[str, Any] = dict(stored) if isinstance(stored, dict) else {}
    if request.edrpou:
        prefilled.setdefault("edrpou", request.edrpou)
    subject = _SUBJECT_PREFIX.match(request.subject or "")
    if subject and "name" not in prefilled:
        prefilled["name"] = subject.group("value")[: _LIMITS["name"]]
    texts = session.scalars(
        select(SupportMessage.body)
        .where(
            SupportMessage.request_id == request.id,
            SupportMessage.direction == MessageDirection.IN,
            SupportMessage.visibility == MessageVisibility.PUBLIC,
        )
        .order_by(SupportMessage.id)
    ).all() or [request.body]
    comments: list[str] = []
    for text in texts:
        fields = fields_from_text(text)
        if "comment" in fields:
            comments.append(fields.pop("comment"))
        prefilled.update(fields)
    if comments and not prefilled.get("comment"):
        prefilled["comment"] = "\n\n".join(comments)[: _LIMITS["comment"]]
    prefilled["support_request_id"] = request.id
    return prefilled


def _use_request(session: Session, request_id: int, requester: Person, unit: OrgUnit) -> SupportRequest:
    request = support.get_request(session, request_id, lock=True)
    if request.type != SupportRequestType.NEW_SCHOOL:
        raise RequestNotForNewSchool(request_id, "тип звернення не «Новий заклад освіти».")
    if request.state in support.FINISHED_STATES:
        raise RequestNotForNewSchool(request_id, "звернення вже виконано, відхилено чи закрито.")
    if request.process_id is not None:
        live = session.get(Process, request.process_id)
        if live is not None and live.state in LIVE:
            raise RequestNotForNewSchool(request_id, f"за ним уже триває процес № {live.id}.")
    if request.requester_person_id not in (None, requester.id):
        raise RequestOutOfScope(request_id)
    if request.org_unit_id is not None and not (
        request.org_unit_id == unit.id or is_within(session, request.org_unit_id, unit.id)
    ):
        raise RequestOutOfScope(request_id)
    return request


def start_new_school(*, session: Session, actor: Actor, params: NewSchoolParams) -> Process:
    """Validate, open (or use) the support request, and record the process (STARTING)."""
    requester = requesting_person(session, actor)
    unit = session.get_one(OrgUnit, requester.org_unit_id)
    if (
        unit.level not in EDUCATION_BODY_LEVELS
        or ADMIN_ROLE_OF_LEVEL.get(unit.level) != requester.role
        or unit.status != OrgStatus.ACTIVE
    ):
        raise NotEducationBodyAdmin()
    edrpou = check_edrpou(params.edrpou)
    existing = _active_unit_with(session, edrpou)
    if existing is not None:
        raise EdrpouIsActiveSchool(existing)
    running = _running(session, edrpou)
    if running is not None:
        raise NewSchoolAlreadyRequested(running)
    if params.support_request_id is not None:
        request = _use_request(session, params.support_request_id, requester, unit)
    else:
        request = support.open_request(
            session=session,
            actor=actor,
            type=SupportRequestType.NEW_SCHOOL,
            subject=f"Новий заклад освіти: {params.name}",
            body=_request_body(params, edrpou),
            channel=SupportChannel.DASHBOARD,
            requester_person_id=requester.id,
            requester_email=requester.email,
            org_unit_id=unit.id,
        )
    request.edrpou = edrpou
    request.payload = {
        **request.payload,
        "new_school": params.model_dump(mode="json", exclude={"support_request_id"}) | {"edrpou": edrpou},
    }
    facts = NewSchoolFacts(
        edrpou=edrpou,
        name=params.name,
        settlement=params.settlement,
        edebo_id=(params.edebo_id or "").strip() or None,
        comment=params.comment,
        requesting_unit_id=unit.id,
        requesting_unit_name=unit.name,
        support_request_id=request.id,
    )
    process = create_process(
        session=session,
        type=TYPE,
        actor=actor,
        subject_org_unit_id=unit.id,
        parameters=facts.model_dump(mode="json"),
        title=f"{SPEC.title_uk}: {params.name}",
    )
    request.process_id = process.id
    audit.record(
        session=session,
        action="new_school.started",
        object_type="process",
        object_id=process.id,
        details={"edrpou": edrpou, "support_request_id": request.id, "org_unit_id": unit.id},
        actor=actor,
    )
    session.flush()
    return process


# --- the steps --------------------------------------------------------------------------------


def facts_of(session: Session, process_id: int, *, lock: bool = False) -> tuple[Process, NewSchoolFacts]:
    """The process and its typed facts."""
    return process_facts(
        session=session, process_id=process_id, process_type=TYPE, model=NewSchoolFacts, lock=lock
    )


def findings_for(*, session: Session, process_id: int) -> NewSchoolFindings:
    """The registry findings of a process's school, as of now."""
    _, facts = facts_of(session, process_id)
    return verify_new_school(
        session=session,
        edrpou=facts.edrpou,
        name=facts.name,
        settlement=facts.settlement,
        requesting_unit_id=facts.requesting_unit_id,
    )


def request_rows(facts: NewSchoolFacts) -> list[list[str]]:
    """The request as the desk and the verifier read it."""
    rows = [
        ["Звернення", f"№ {facts.support_request_id}"],
        ["Заявник (ОУО)", facts.requesting_unit_name],
        ["Код ЄДРПОУ", facts.edrpou],
        ["Назва закладу", facts.name],
        ["Населений пункт", facts.settlement],
        ["Код в ЄДЕБО", facts.edebo_id or "не вказано"],
    ]
    if facts.comment:
        rows.append(["Коментар заявника", facts.comment])
    return rows


def _decided(session: Session, process_id: int, step_key: str) -> ApprovalTask:
    task = session.scalars(
        select(ApprovalTask).where(ApprovalTask.process_id == process_id, ApprovalTask.step_key == step_key)
    ).one()
    return task


def _decider(session: Session, task: ApprovalTask) -> Actor:
    person = session.get(Person, task.decided_by_id) if task.decided_by_id else None
    if person is None:
        raise NotFound(f"Особу, що ухвалила рішення в завданні №{task.id}, не знайдено.")
    return Actor(person_id=person.id, label=person.full_name)


def apply_triage(*, session: Session, process_id: int, step_key: str) -> None:
    """Carry the desk's triage decision to the support request (accepted, or rejected with the comment
    sent to the requester). Idempotent: a request already past triage is left alone."""
    _, facts = facts_of(session, process_id)
    task = _decided(session, process_id, step_key)
    request = support.get_request(session, facts.support_request_id)
    if task.state != TaskState.DECIDED or request.state not in (
        SupportRequestState.NEW,
        SupportRequestState.INFO_REQUESTED,
    ):
        return
    accepted = task.decision == Decision.APPROVE
    support.triage(
        session=session,
        actor=_decider(session, task),
        request_id=request.id,
        decision=support.TriageDecision.ACCEPT if accepted else support.TriageDecision.REJECT,
        comment=task.comment
        or (
            None
            if accepted
            else "Звернення відхилено службою підтримки; подайте його повторно з уточненнями."
        ),
    )


def reject_request(*, session: Session, process_id: int, step_key: str) -> None:
    """The verifier rejected the school: the support request is rejected with the reason sent to the
    requester (once)."""
    _, facts = facts_of(session, process_id)
    task = _decided(session, process_id, step_key)
    request = support.get_request(session, facts.support_request_id)
    if request.state in support.FINISHED_STATES or task.decided_by_id is None:
        return
    support.triage(
        session=session,
        actor=_decider(session, task),
        request_id=request.id,
        decision=support.TriageDecision.REJECT,
        comment=task.comment or "Заклад не підтверджено перевіркою за реєстрами.",
    )


def _placement(session: Session, facts: NewSchoolFacts, requesting: OrgUnit) -> tuple[int, bool]:
    """The school's parent: the requesting hromada/district itself; for a rayon or oblast, the
    settlement's hromada within it (else the requesting unit, flagged for placement)."""
    if requesting.level in (OrgLevel.HROMADA, OrgLevel.DISTRICT):
        return requesting.id, False
    hromada = settlement_unit(session, settlement=facts.settlement, requesting_unit=requesting)
    if hromada is not None and is_within(session, hromada.id, requesting.id):
        return hromada.id, False
    return requesting.id, True


def create_school_card(*, session: Session, process_id: int, step_key: str) -> OrgUnit:
    """The school card under the requesting ОУО, on the verifier's decision in `step_key` (once);
    EdrpouIsActiveSchool if the code was taken meanwhile."""
    process, facts = facts_of(session, process_id, lock=True)
    if facts.school_id is not None:
        return session.get_one(OrgUnit, facts.school_id)
    existing = _active_unit_with(session, facts.edrpou)
    if existing is not None:
        raise EdrpouIsActiveSchool(existing)
    requesting = session.get_one(OrgUnit, facts.requesting_unit_id)
    parent_id, needs_placement = _placement(session, facts, requesting)
    edebo_id = facts.edebo_id
    if edebo_id and session.scalars(select(OrgUnit.id).where(OrgUnit.edebo_id == edebo_id)).first():
        edebo_id = None  # the ЄДЕБО code is another unit's: the verifier saw it among the findings
    school = OrgUnit(
        level=OrgLevel.SCHOOL,
        name=facts.name,
        status=OrgStatus.ACTIVE,
        parent_id=parent_id,
        managing_body_id=requesting.id,
        oblast_id=_oblast_of(requesting),
        edrpou=facts.edrpou,
        edebo_id=edebo_id,
        settlement=facts.settlement,
        managing_body_name=requesting.name,
        needs_placement=needs_placement,
        placement_note="Створено через службу підтримки: уточніть громаду закладу."
        if needs_placement
        else None,
    )
    session.add(school)
    session.flush()
    facts.school_id = school.id
    process.parameters = facts.model_dump(mode="json")
    audit.record(
        session=session,
        action="org_unit.school_created",
        object_type="org_unit",
        object_id=school.id,
        details={"process_id": process_id, "edrpou": facts.edrpou, "managing_body_id": requesting.id},
        actor=_decider(session, _decided(session, process_id, step_key)),
    )
    session.flush()
    return school


def resolve_request(*, session: Session, process_id: int, step_key: str) -> None:
    """The school exists: the support request is resolved with a public reply to the requester (once)."""
    _, facts = facts_of(session, process_id)
    task = _decided(session, process_id, step_key)
    request = support.get_request(session, facts.support_request_id)
    if request.state in support.FINISHED_STATES or facts.school_id is None:
        return
    support.resolve(
        session=session,
        actor=_decider(session, task),
        request_id=request.id,
        comment=(
            f"Картку закладу «{facts.name}» (ЄДРПОУ {facts.edrpou}) створено в АІКОМ під "
            f"«{facts.requesting_unit_name}». Тепер ви можете додати керівника закладу через процес "
            "«Створення облікового запису (каскад)»."
        ),
    )


def outcome_facts(*, session: Session, process_id: int) -> list[str]:
    """Lines for the requester's outcome email."""
    _, facts = facts_of(session, process_id)
    lines = [f"Звернення № {facts.support_request_id}", f"Заклад: {facts.name} (ЄДРПОУ {facts.edrpou})"]
    if facts.school_id is not None:
        lines.append(f"Картка закладу № {facts.school_id}")
    return lines


__all__ = [
    "EdeboMatch",
    "EdrpouBadCheckDigit",
    "EdrpouIsActiveSchool",
    "EdrpouMalformed",
    "NewSchoolAlreadyRequested",
    "NewSchoolFindings",
    "NotEducationBodyAdmin",
    "RequestNotForNewSchool",
    "RequestOutOfScope",
    "UnitRef",
    "apply_triage",
    "create_school_card",
    "fields_from_text",
    "findings_for",
    "params_from_request",
    "start_new_school",
    "verify_new_school",
]
