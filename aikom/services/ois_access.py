"""A school's grants of access to connected ОІС (DESIGN §3 item 7; the order, items 5 and 8).

- `ois-access`: the school's DIRECTOR (never a deputy: «наразі весь функціонал доступний директору ЗО»)
  grants a CONNECTED ОІС access. The grant binds the school, the ОІС, the school's current active API
  key, the ОІС's approved agreement, the capability in force, the data sets (catalogue codes; reserved
  ones never) and the school's contract with the operator. The director's own decision: recorded at the
  start, in the same transaction as its process; the operator is emailed.
- `ois-revocation`: the director asks, an institute admin approves (signed); then in ONE transaction the
  grant is REVOKED, the school's API key deactivated, a new one kept for ONE showing to the director, and
  the school's other active grants moved to it.
- An account's deactivation revokes its unit's active grants (`revoke_grants_of_unit`).

Nothing here commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.core.errors import DomainError, NotFound, ValidationFailed
from aikom.core.ois_catalogue import get_catalogue
from aikom.mail.templates import PersonNotice
from aikom.models import (
    AccessKey,
    Account,
    AccountState,
    Agreement,
    AgreementState,
    GrantState,
    KeyKind,
    KeyState,
    Ois,
    OisCapability,
    OisGrant,
    OisState,
    OrgLevel,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
    Process,
)
from aikom.processes.ois_access import SPEC as ACCESS_SPEC
from aikom.processes.ois_access import TYPE as ACCESS_TYPE
from aikom.processes.ois_access import OisAccessFacts, OisAccessParams
from aikom.processes.ois_revocation import SPEC as REVOCATION_SPEC
from aikom.processes.ois_revocation import TYPE as REVOCATION_TYPE
from aikom.processes.ois_revocation import OisRevocationFacts, OisRevocationParams
from aikom.services import audit
from aikom.services.key_regeneration import SHOWN_ONCE_UK, NoActiveApiKey, active_api_key, rekey_api
from aikom.services.ois_admin import capability_in_force
from aikom.services.outbox import enqueue
from aikom.services.processes import (
    LIVE_STATES,
    create_process,
    get_process,
    live_process_id,
    process_facts,
    requester_of,
)
from aikom.settings import Settings

CONTRACT_NUMBER_MAX = 100
REASON_MAX = 400
CAPABILITY_UK: dict[OisCapability, str] = {
    OisCapability.NONE: "немає",
    OisCapability.RECEIVE: "отримання даних",
    OisCapability.RECEIVE_TRANSMIT: "отримання та передавання даних",
}
GRANT_STATE_UK: dict[GrantState, str] = {GrantState.ACTIVE: "чинний", GrantState.REVOKED: "відкликаний"}
# Units whose director grants: a school, or a branch with an account of its own (its head).
GRANTING_LEVELS = (OrgLevel.SCHOOL, OrgLevel.BRANCH)


# --- refusals ------------------------------------------------------------------------------------


class NotSchoolDirector(DomainError):
    """Only an active school director grants or asks to revoke ОІС access."""

    code = "role_not_allowed"

    def __init__(self, person: Person) -> None:
        who = "заступник керівника" if person.role == PersonRole.DEPUTY else f"«{person.full_name}»"
        super().__init__(
            f"Доступ ОІС: {who} не може надавати чи відкликати доступ — це робить лише керівник закладу "
            "освіти (наразі весь функціонал доступний директору ЗО; керівник не передає своїх повноважень).",
            person_id=person.id,
        )


class OisNotConnected(DomainError):
    """Access is granted only to a CONNECTED ОІС."""

    code = "ois_not_connected"

    def __init__(self, ois: Ois | None, ois_id: int) -> None:
        if ois is None:
            message = f"ОІС: системи №{ois_id} немає в переліку підключених до АІКОМ."
        else:
            message = (
                f"ОІС: «{ois.system_name}» не підключена до центральної бази даних АІКОМ (стан: "
                f"{ois.state.value}); доступ надають лише підключеній ОІС з переліку."
            )
        super().__init__(message, ois_id=ois_id)


class NoApprovedAgreement(DomainError):
    """A connected ОІС without an approved accession agreement gets no grant."""

    code = "no_agreement"

    def __init__(self, ois: Ois) -> None:
        super().__init__(
            f"ОІС «{ois.system_name}» не має затвердженого договору про приєднання: доступ надати не можна.",
            ois_id=ois.id,
        )


class GrantAlreadyActive(DomainError):
    """A school grants an ОІС once; a second grant waits for the first one's revocation."""

    code = "grant_exists"

    def __init__(self, ois: Ois, grant_id: int) -> None:
        super().__init__(
            f"Доступ ОІС: заклад уже надав доступ «{ois.system_name}» (доступ №{grant_id} чинний). Щоб "
            "змінити набори даних, відкличте чинний доступ і надайте новий.",
            grant_id=grant_id,
        )


class SchoolAccountNotActive(DomainError):
    """A school whose account is not active grants nothing."""

    code = "account_not_active"

    def __init__(self, unit_name: str, state: AccountState | None) -> None:
        shown = state.value if state is not None else "немає"
        super().__init__(
            f"Доступ ОІС: обліковий запис «{unit_name}» не активний (стан: {shown}) — доступ ОІС не надають.",
        )


class NoSchoolApiKey(DomainError):
    """The grant binds the school's active API key: without one there is nothing to bind."""

    code = "no_active_api_key"

    def __init__(self, unit_name: str) -> None:
        super().__init__(
            f"Доступ ОІС: «{unit_name}» не має чинного ключа API (не видано, деактивовано чи призупинено), "
            "тож доступ прив'язати нема до чого. Замовте перегенерацію ключа API.",
        )


class GrantNotFound(NotFound):
    def __init__(self, grant_id: int) -> None:
        super().__init__(
            f"Доступ ОІС №{grant_id} не знайдено серед доступів вашого закладу.", grant_id=grant_id
        )


class GrantNotActive(DomainError):
    code = "grant_not_active"

    def __init__(self, grant_id: int) -> None:
        super().__init__(f"Доступ ОІС №{grant_id} уже відкликано.", grant_id=grant_id)


class RevocationRunning(DomainError):
    code = "already_running"

    def __init__(self, process_id: int) -> None:
        super().__init__(
            f"Відкликання цього доступу вже замовлено (процес №{process_id}); дочекайтеся рішення ІОА.",
            process_id=process_id,
        )


# --- reading ------------------------------------------------------------------------------------


def _approved_agreement(session: Session, ois_id: int) -> Agreement | None:
    return session.scalars(
        select(Agreement)
        .where(Agreement.ois_id == ois_id, Agreement.state == AgreementState.APPROVED)
        .order_by(Agreement.approved_at.desc().nulls_last(), Agreement.id.desc())
        .limit(1)
    ).first()


@dataclass(frozen=True)
class ConnectedOis:
    """A connected ОІС as a director chooses it."""

    id: int
    system_name: str
    company_name: str
    site: str | None
    capability: OisCapability
    agreement_number: str | None


def connected_ois(*, session: Session) -> list[ConnectedOis]:
    """Every CONNECTED ОІС (by name), with the capability in force and its agreement's number."""
    found = session.scalars(select(Ois).where(Ois.state == OisState.CONNECTED).order_by(Ois.system_name))
    listed = []
    for ois in found:
        agreement = _approved_agreement(session, ois.id)
        listed.append(
            ConnectedOis(
                id=ois.id,
                system_name=ois.system_name,
                company_name=ois.company_name,
                site=ois.site,
                capability=capability_in_force(ois, session=session),
                agreement_number=agreement.number if agreement else None,
            )
        )
    return listed


@dataclass(frozen=True)
class GrantView:
    """One of a school's grants as its director sees it."""

    id: int
    ois_id: int
    ois_name: str
    state: GrantState
    data_sets: list[str]
    capability: OisCapability | None
    contract_number: str | None
    contract_date: date | None
    key_public_prefix: str
    created_at: datetime
    revoked_at: datetime | None
    revoke_reason: str | None
    revocation_process_id: int | None  # a revocation waiting for the Institute


def key_prefix(public_id: str) -> str:
    """What a page shows of a key: the start of its public id, never the secret."""
    return f"{public_id[:8]}…"


def grants_of_school(*, session: Session, school_id: int) -> list[GrantView]:
    """The school's grants, active first, newest first."""
    pending = {
        int(p.parameters["grant_id"]): p.id
        for p in session.scalars(
            select(Process).where(
                Process.type == REVOCATION_TYPE,
                Process.state.in_(LIVE_STATES),
                Process.subject_org_unit_id == school_id,
            )
        )
    }
    rows = session.execute(
        select(OisGrant, Ois.system_name, AccessKey.public_id)
        .join(Ois, Ois.id == OisGrant.ois_id)
        .join(AccessKey, AccessKey.id == OisGrant.api_key_id)
        .where(OisGrant.school_org_unit_id == school_id)
        .order_by(OisGrant.state, OisGrant.created_at.desc(), OisGrant.id.desc())
    ).all()
    return [
        GrantView(
            id=g.id,
            ois_id=g.ois_id,
            ois_name=name,
            state=g.state,
            data_sets=list(g.data_sets),
            capability=g.capability,
            contract_number=g.contract_number,
            contract_date=g.contract_date,
            key_public_prefix=key_prefix(public_id),
            created_at=g.created_at,
            revoked_at=g.revoked_at,
            revoke_reason=g.revoke_reason,
            revocation_process_id=pending.get(g.id),
        )
        for g, name, public_id in rows
    ]


@dataclass(frozen=True)
class SchoolKey:
    """The school's API key as its director sees it: never the secret."""

    key_id: int | None
    public_prefix: str | None
    state: KeyState | None
    created_at: datetime | None


def school_key_state(*, session: Session, account_id: int) -> SchoolKey:
    """The account's current API key (active or suspended), else the latest one."""
    key = session.scalars(
        select(AccessKey)
        .where(AccessKey.account_id == account_id, AccessKey.kind == KeyKind.API)
        .order_by((AccessKey.state == KeyState.DEACTIVATED).asc(), AccessKey.id.desc())
        .limit(1)
    ).first()
    if key is None:
        return SchoolKey(key_id=None, public_prefix=None, state=None, created_at=None)
    return SchoolKey(
        key_id=key.id, public_prefix=key_prefix(key.public_id), state=key.state, created_at=key.created_at
    )


# --- granting -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class School:
    """The director's school and its account."""

    director: Person
    unit: OrgUnit
    account: Account


def school_of_director(session: Session, person: Person, *, lock: bool = False) -> School:
    """The school an active director acts for (its account locked when asked); a refusal otherwise."""
    if person.role != PersonRole.DIRECTOR or person.state != PersonState.ACTIVE:
        raise NotSchoolDirector(person)
    unit = session.get_one(OrgUnit, person.org_unit_id)
    if unit.level not in GRANTING_LEVELS:
        raise NotSchoolDirector(person)
    account = session.get(Account, person.account_id, with_for_update=lock) if person.account_id else None
    if account is None or account.state != AccountState.ACTIVE:
        raise SchoolAccountNotActive(unit.name, account.state if account else None)
    return School(director=person, unit=unit, account=account)


def check_data_sets(codes: list[str]) -> list[str]:
    """The chosen data sets, each once, in the catalogue's order; refused: none, unknown, reserved."""
    catalogue = get_catalogue()
    chosen = {c.strip() for c in codes if c and c.strip()}
    if not chosen:
        raise ValidationFailed("data_sets", "Набори даних: оберіть хоча б один набір даних з каталогу.")
    reserved = sorted(c for c in chosen if catalogue.is_reserved(c))
    if reserved:
        titles = ", ".join(f"«{d.title}»" for d in catalogue.reserved if d.code in reserved)
        raise ValidationFailed(
            "data_sets",
            f"Набори даних: {titles} ОІС не надають — зарахування, вибуття та переведення учнів здійснюють "
            "виключно в державному інтерфейсі АІКОМ.",
        )
    unknown = sorted(c for c in chosen if catalogue.data_set(c) is None)
    if unknown:
        known = ", ".join(d.code for d in catalogue.data_sets)
        raise ValidationFailed(
            "data_sets", f"Набори даних: «{', '.join(unknown)}» немає в каталозі; можливі: {known}."
        )
    return [d.code for d in catalogue.data_sets if d.code in chosen]


def _contract(number: str | None, when: date | None, today: date) -> tuple[str, date]:
    text = (number or "").strip()
    if not text:
        raise ValidationFailed(
            "contract_number",
            "Номер договору: вкажіть номер договору закладу з оператором ОІС (обов'язково).",
        )
    if len(text) > CONTRACT_NUMBER_MAX:
        raise ValidationFailed(
            "contract_number", f"Номер договору: не довше за {CONTRACT_NUMBER_MAX} символів."
        )
    if when is None:
        raise ValidationFailed(
            "contract_date", "Дата договору: вкажіть дату договору закладу з оператором ОІС (обов'язково)."
        )
    if when > today:
        raise ValidationFailed("contract_date", "Дата договору: не може бути пізнішою за сьогодні.")
    return text, when


def _active_grant(session: Session, ois_id: int, school_id: int) -> int | None:
    return session.scalars(
        select(OisGrant.id).where(
            OisGrant.ois_id == ois_id,
            OisGrant.school_org_unit_id == school_id,
            OisGrant.state == GrantState.ACTIVE,
        )
    ).first()


def start_grant(*, session: Session, actor: Actor, params: OisAccessParams) -> Process:
    """Validate a director's grant and record it with its process (the director's own decision: the
    grant is in force once this commits; the run only closes the process). The operator is emailed."""
    requester = requester_of(session, actor)
    school = school_of_director(session, requester, lock=True)  # serialises the school's grants
    data_sets = check_data_sets(params.data_sets)
    number, when = _contract(params.contract_number, params.contract_date, datetime.now(UTC).date())
    ois = session.get(Ois, params.ois)
    if ois is None or ois.state != OisState.CONNECTED:
        raise OisNotConnected(ois, params.ois)
    agreement = _approved_agreement(session, ois.id)
    if agreement is None:
        raise NoApprovedAgreement(ois)
    existing = _active_grant(session, ois.id, school.unit.id)
    if existing is not None:
        raise GrantAlreadyActive(ois, existing)
    key = active_api_key(session, school.account.id)
    if key is None:
        raise NoSchoolApiKey(school.unit.name)
    capability = capability_in_force(ois, session=session)
    facts = OisAccessFacts(
        school_id=school.unit.id,
        school_name=school.unit.name,
        ois_id=ois.id,
        ois_name=ois.system_name,
        data_sets=data_sets,
        contract_number=number,
        contract_date=when,
    )
    process = create_process(
        session=session,
        type=ACCESS_TYPE,
        actor=actor,
        subject_org_unit_id=school.unit.id,
        parameters=facts.model_dump(mode="json"),
        title=f"{ACCESS_SPEC.title_uk}: {ois.system_name} ({school.unit.name})",
    )
    grant = OisGrant(
        ois_id=ois.id,
        school_org_unit_id=school.unit.id,
        api_key_id=key.id,
        state=GrantState.ACTIVE,
        granted_by_id=requester.id,
        agreement_id=agreement.id,
        capability=capability,
        data_sets=data_sets,
        contract_number=number,
        contract_date=when,
        process_id=process.id,
    )
    session.add(grant)
    session.flush()
    facts.grant_id = grant.id
    process.parameters = facts.model_dump(mode="json")
    audit.record(
        session=session,
        action="ois_grant.granted",
        object_type="ois_grant",
        object_id=grant.id,
        details={
            "process_id": process.id,
            "ois_id": ois.id,
            "school_id": school.unit.id,
            "api_key_id": key.id,
            "agreement_id": agreement.id,
            "capability": capability.value,
            "data_sets": data_sets,
            "contract_number": number,
            "contract_date": when.isoformat(),
            "summary_uk": f"«{school.unit.name}» → «{ois.system_name}»",
        },
        actor=actor,
    )
    titles = {d.code: d.title for d in get_catalogue().data_sets}
    enqueue(
        session=session,
        template="person_notice",
        to_address=ois.contact_email,
        variables=PersonNotice(
            recipient_name=ois.contact_name or ois.system_name,
            subject=f"заклад «{school.unit.name}» надав доступ ОІС «{ois.system_name}»",
            lines=[
                f"Заклад освіти «{school.unit.name}» надав ОІС «{ois.system_name}» доступ до своїх даних "
                f"(доступ №{grant.id}) за договором № {number} від {when.strftime('%d.%m.%Y')}.",
                "Набори даних: " + "; ".join(titles[c] for c in data_sets) + ".",
                f"Можливості ОІС, що діють: {CAPABILITY_UK[capability]}.",
                "Ключ API заклад передає вам сам, за вашим договором; АІКОМ його не надсилає.",
            ],
        ),
        idempotency_key=f"ois-grant-{grant.id}-granted",
    )
    session.flush()
    return process


def grant_outcome(*, session: Session, process_id: int) -> str:
    """The `ois-access` process's outcome line."""
    process = get_process(session=session, process_id=process_id)
    facts = OisAccessFacts.model_validate(process.parameters)
    return f"Доступ ОІС «{facts.ois_name}» надано (доступ №{facts.grant_id}); оператора ОІС повідомлено."


# --- revocation at the school's request ---------------------------------------------------------


def _running_revocation(session: Session, grant_id: int) -> int | None:
    return live_process_id(
        session=session, process_type=REVOCATION_TYPE, parameter="grant_id", value=grant_id
    )


def start_revocation(*, session: Session, actor: Actor, params: OisRevocationParams) -> Process:
    """Validate a director's request to revoke one of the school's grants and record it (STARTING)."""
    requester = requester_of(session, actor)
    school = school_of_director(session, requester, lock=True)
    reason = params.reason.strip()
    if len(reason) > REASON_MAX:
        raise ValidationFailed("reason", f"Причина: не довше за {REASON_MAX} символів.")
    grant = session.get(OisGrant, params.grant)
    if grant is None or grant.school_org_unit_id != school.unit.id:
        raise GrantNotFound(params.grant)
    if grant.state != GrantState.ACTIVE:
        raise GrantNotActive(grant.id)
    running = _running_revocation(session, grant.id)
    if running is not None:
        raise RevocationRunning(running)
    ois = session.get_one(Ois, grant.ois_id)
    facts = OisRevocationFacts(
        grant_id=grant.id,
        school_id=school.unit.id,
        school_name=school.unit.name,
        account_id=school.account.id,
        ois_id=ois.id,
        ois_name=ois.system_name,
        reason=reason,
    )
    process = create_process(
        session=session,
        type=REVOCATION_TYPE,
        actor=actor,
        subject_org_unit_id=school.unit.id,
        parameters=facts.model_dump(mode="json"),
        title=f"{REVOCATION_SPEC.title_uk}: {ois.system_name} ({school.unit.name})",
    )
    audit.record(
        session=session,
        action="ois_grant.revocation_requested",
        object_type="ois_grant",
        object_id=grant.id,
        details={"process_id": process.id, "reason": reason},
        actor=actor,
    )
    session.flush()
    return process


def _revocation(session: Session, process_id: int) -> tuple[Process, OisRevocationFacts]:
    return process_facts(
        session=session, process_id=process_id, process_type=REVOCATION_TYPE, model=OisRevocationFacts,
        lock=True,
    )  # fmt: skip


def revocation_shown(*, session: Session, process_id: int) -> list[list[str]]:
    """What the approving institute admin sees."""
    return _revocation(session, process_id)[1].shown()


def apply_revocation(
    *, session: Session, process_id: int, approver_id: int | None, settings: Settings | None = None
) -> OisRevocationFacts:
    """The approved revocation, in the caller's ONE transaction: the grant REVOKED (when, by whom, why),
    the school's API key deactivated, a new one kept for ONE showing to the director, the school's other
    active grants moved to it; the operator and the director emailed. Idempotent."""
    process, facts = _revocation(session, process_id)
    if facts.revoked_at is not None:
        return facts
    account = session.get_one(Account, facts.account_id, with_for_update=True)
    if account.state != AccountState.ACTIVE:
        raise SchoolAccountNotActive(facts.school_name, account.state)
    grant = session.get_one(OisGrant, facts.grant_id, with_for_update=True, populate_existing=True)
    if grant.state != GrantState.ACTIVE:
        raise GrantNotActive(grant.id)
    approver = session.get(Person, approver_id) if approver_id is not None else None
    actor = Actor(person_id=approver.id, label=approver.full_name) if approver else Actor.system()
    now = datetime.now(UTC)
    old_key_id = grant.api_key_id
    grant.state = GrantState.REVOKED
    grant.revoked_at = now
    grant.revoked_by_id = actor.person_id
    grant.revoke_reason = f"На запит закладу (процес №{process.id}): {facts.reason}"[:500]
    session.flush()  # revoked before the re-keying, so that it stays on the old key
    old_key = session.get_one(AccessKey, old_key_id)
    if old_key.state == KeyState.ACTIVE:
        key_id = old_key.id
    else:  # the grant's key was replaced meanwhile without it: re-key the account's current key
        current = active_api_key(session, account.id)
        if current is None:  # suspended by a security measure: no key is handed out meanwhile
            raise NoActiveApiKey(facts.school_name)
        key_id = current.id
    done = rekey_api(
        session=session,
        key_id=key_id,
        actor=actor,
        note=f"Доступ ОІС «{facts.ois_name}» відкликано на запит закладу (процес №{process.id})."[:500],
        event_key=f"process-{process.id}",
        settings=settings,
    )
    facts.revoked_at = now
    facts.old_key_id = done.old_key_id
    facts.new_key_id = done.new_key_id
    facts.moved_grant_ids = done.moved_grant_ids
    process.parameters = facts.model_dump(mode="json")
    audit.record(
        session=session,
        action="ois_grant.revoked",
        object_type="ois_grant",
        object_id=grant.id,
        details={
            "process_id": process.id,
            "reason": facts.reason,
            "old_key_id": done.old_key_id,
            "new_key_id": done.new_key_id,
            "moved_grant_ids": done.moved_grant_ids,
            "summary_uk": f"«{facts.school_name}» ✕ «{facts.ois_name}»",
        },
        actor=actor,
    )
    ois = session.get_one(Ois, facts.ois_id)
    enqueue(
        session=session,
        template="person_notice",
        to_address=ois.contact_email,
        variables=PersonNotice(
            recipient_name=ois.contact_name or ois.system_name,
            subject=f"заклад «{facts.school_name}» відкликав доступ ОІС «{ois.system_name}»",
            lines=[
                f"На запит закладу освіти «{facts.school_name}» Інститут освітньої аналітики відкликав "
                f"доступ ОІС «{ois.system_name}» до даних закладу (доступ №{grant.id}).",
                "Ключ API закладу, переданий вам, деактивовано: запити з ним більше не виконуються.",
            ],
        ),
        idempotency_key=f"ois-grant-{grant.id}-revoked",
    )
    session.flush()
    return facts


def revocation_outcome(*, session: Session, process_id: int) -> str:
    """The `ois-revocation` process's outcome line."""
    facts = _revocation(session, process_id)[1]
    moved = (
        f" Інші доступи закладу перенесено на новий ключ: {len(facts.moved_grant_ids)}."
        if facts.moved_grant_ids
        else ""
    )
    return (
        f"Доступ ОІС «{facts.ois_name}» відкликано; ключ API №{facts.old_key_id} деактивовано, згенеровано "
        f"новий №{facts.new_key_id}.{moved} {SHOWN_ONCE_UK}"
    )


# --- an account's deactivation -------------------------------------------------------------------


def revoke_grants_of_unit(
    *, session: Session, unit_id: int, reason: str, actor: Actor, now: datetime | None = None
) -> list[int]:
    """Revoke every active grant of the unit (its account is being deactivated), each with the reason;
    their operators are told. The ids revoked."""
    now = now or datetime.now(UTC)
    grants = list(
        session.scalars(
            select(OisGrant)
            .where(OisGrant.school_org_unit_id == unit_id, OisGrant.state == GrantState.ACTIVE)
            .order_by(OisGrant.id)
            .with_for_update()
        )
    )
    if not grants:
        return []
    for grant in grants:
        grant.state = GrantState.REVOKED
        grant.revoked_at = now
        grant.revoked_by_id = actor.person_id
        grant.revoke_reason = reason[:500]
    session.flush()
    unit = session.get_one(OrgUnit, unit_id)
    systems: dict[int, Ois] = {
        o.id: o for o in session.scalars(select(Ois).where(Ois.id.in_({g.ois_id for g in grants})))
    }
    for grant in grants:
        ois = systems[grant.ois_id]
        enqueue(
            session=session,
            template="person_notice",
            to_address=ois.contact_email,
            variables=PersonNotice(
                recipient_name=ois.contact_name or ois.system_name,
                subject=f"доступ ОІС «{ois.system_name}» до даних «{unit.name}» припинено",
                lines=[
                    f"Доступ ОІС «{ois.system_name}» до даних закладу «{unit.name}» (доступ №{grant.id}) "
                    f"відкликано: {reason}",
                ],
            ),
            idempotency_key=f"ois-grant-{grant.id}-revoked",
        )
    audit.record(
        session=session,
        action="ois_grant.revoked_with_account",
        object_type="org_unit",
        object_id=unit_id,
        details={"grant_ids": [g.id for g in grants], "reason": reason},
        actor=actor,
    )
    return [g.id for g in grants]
