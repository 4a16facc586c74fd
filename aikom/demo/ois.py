"""The demo's connected ОІС: «Демо Е-Журнал» of the demo operator's company, connected with `receive`, so
that the demo director can grant it access at once (the connection process itself is shown by the demo
operator's second application or by a newcomer company)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.core.calendar import KYIV
from aikom.core.ois_catalogue import get_catalogue
from aikom.models import (
    Agreement,
    AgreementState,
    Ois,
    OisCapability,
    OisPhase,
    OisState,
    OrgUnit,
    Person,
)
from aikom.services import audit
from aikom.services.ois_connection import AGREEMENT_PREFIX, year_number
from aikom.settings import Settings

DEMO_SYSTEM = "Демо Е-Журнал"
DEMO_CLIENT_ID = "demo-e-journal"
AGREEMENT_TEXT = (
    "ДОГОВІР ПРО ПРИЄДНАННЯ до центральної бази даних програмно-апаратного комплексу «Автоматизований "
    "інформаційний комплекс освітнього менеджменту» (демонстраційний примірник)."
)


def seed_connected_ois(
    *, session: Session, settings: Settings, company: OrgUnit, operator: Person, operator_key: str
) -> Ois:
    """The demo ОІС of `company`, CONNECTED with `receive` from now (created once)."""
    from aikom.demo.persons import demo_sign

    existing = session.scalars(select(Ois).where(Ois.client_id == DEMO_CLIENT_ID)).first()
    if existing is not None:
        return existing
    now = datetime.now(UTC)
    checklist = get_catalogue().checklist("connection")
    ois = Ois(
        system_name=DEMO_SYSTEM,
        company_name=company.name,
        company_edrpou=company.edrpou or "",
        site="https://e-journal.demo.aikom.local",
        contact_name=operator.full_name,
        contact_email=operator.email,
        state=OisState.CONNECTED,
        capability=OisCapability.RECEIVE,
        self_assessment={item.code: {"met": True, "note": ""} for item in checklist},
        operator_person_id=operator.id,
        operator_org_unit_id=company.id,
        client_id=DEMO_CLIENT_ID,
        connected_at=now,
        state_changed_at=now,
        submission_count=1,
    )
    session.add(ois)
    session.flush()
    content = AGREEMENT_TEXT.encode()
    session.add(
        Agreement(
            ois_id=ois.id,
            file_name="dogovir-pro-pryiednannia.txt",
            content=content,
            sha256=hashlib.sha256(content).hexdigest(),
            signature=demo_sign(settings, operator_key, content),
            signer_edrpou=company.edrpou,
            signer_name=operator.full_name,
            number=year_number(session, Agreement.number, AGREEMENT_PREFIX, now.astimezone(KYIV).year),
            agreement_date=now.astimezone(KYIV).date(),
            state=AgreementState.APPROVED,
            approved_at=now,
        )
    )
    session.add(
        OisPhase(ois_id=ois.id, capability=OisCapability.RECEIVE, effective_from=now, note="Демо: підключено")
    )
    audit.record(
        session=session,
        action="ois.connected",
        object_type="ois",
        object_id=ois.id,
        details={"client_id": DEMO_CLIENT_ID, "demo": True},
        actor_label="demo",
    )
    session.flush()
    return ois
