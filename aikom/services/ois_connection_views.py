"""What «Моя ОІС», the staff's «ОІС» and `aikom ois show|applications|conclusion` show of an ОІС connection:
its application, agreement, reviews per round and conclusions — to its own operator and institute staff
only (`ois_connection.NotAllowedToSee` for anyone else). Reads only."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aikom.core.errors import NotFound
from aikom.models import (
    GrantState,
    Ois,
    OisConclusion,
    OisGrant,
    OisReview,
    OisState,
    Person,
    PersonRole,
    PersonState,
)
from aikom.processes.ois_connection import AGREEMENT_STEP, RESUBMIT_STEP, REVIEW_STEP
from aikom.services.ois_connection import (
    CAPABILITY_LABELS_UK,
    ROUND_LABELS_UK,
    STAFF_ROLES,
    STATE_LABELS_UK,
    NotAllowedToSee,
    current_agreement,
    get_ois,
    open_task,
    operator_of,
    passed_review,
    process_of,
)


class ReviewRow(BaseModel):
    """One review as operator and staff read it."""

    id: int
    round: str
    round_label: str
    submission_no: int
    outcome: str
    reviewer: str
    at: datetime
    items: list[dict[str, Any]]
    comment: str | None = None
    conclusion_id: int | None = None
    conclusion_number: str | None = None


class OisCard(BaseModel):
    """An ОІС with its application, agreement, reviews and conclusions."""

    id: int
    system_name: str
    company_name: str
    company_edrpou: str
    site: str | None
    contact_name: str | None
    contact_email: str
    contact_phone: str | None
    state: str
    state_label: str
    state_reason: str | None
    capability_label: str
    submission_count: int
    client_id: str | None
    connected_at: datetime | None
    self_assessment: dict[str, Any]
    agreement_file: str | None = None
    agreement_state: str | None = None
    agreement_number: str | None = None
    agreement_date: date | None = None
    agreement_signer: str | None = None
    reviews: list[ReviewRow] = Field(default_factory=list)
    active_grants: int = 0
    process_id: int | None = None
    open_step: str | None = None  # review / resubmit / agreement
    reviewer_id: int | None = None


def _may_see(session: Session, viewer: Person, ois: Ois) -> bool:
    if viewer.state != PersonState.ACTIVE:
        return False
    if viewer.role in STAFF_ROLES:
        return True
    return viewer.role == PersonRole.OIS_OPERATOR and viewer.org_unit_id == ois.operator_org_unit_id


def _card(session: Session, ois: Ois) -> OisCard:
    agreement = current_agreement(session, ois.id)
    reviews = session.scalars(
        select(OisReview).where(OisReview.ois_id == ois.id).order_by(OisReview.id)
    ).all()
    conclusions = {
        c.review_id: c for c in session.scalars(select(OisConclusion).where(OisConclusion.ois_id == ois.id))
    }
    names = {
        p.id: p.full_name
        for p in session.scalars(select(Person).where(Person.id.in_([r.reviewer_id for r in reviews])))
    }
    grants = session.scalar(
        select(func.count())
        .select_from(OisGrant)
        .where(OisGrant.ois_id == ois.id, OisGrant.state == GrantState.ACTIVE)
    )
    open_step = None
    process_id = None
    with contextlib.suppress(NotFound):
        process_id = process_of(session, ois.id).id
    for prefix in (REVIEW_STEP, RESUBMIT_STEP, AGREEMENT_STEP):
        if open_task(session, ois.id, prefix) is not None:
            open_step = prefix
    review = passed_review(session, ois.id)
    return OisCard(
        id=ois.id,
        system_name=ois.system_name,
        company_name=ois.company_name,
        company_edrpou=ois.company_edrpou,
        site=ois.site,
        contact_name=ois.contact_name,
        contact_email=ois.contact_email,
        contact_phone=ois.contact_phone,
        state=ois.state.value,
        state_label=STATE_LABELS_UK[ois.state],
        state_reason=ois.state_reason,
        capability_label=CAPABILITY_LABELS_UK[ois.capability],
        submission_count=ois.submission_count,
        client_id=ois.client_id,
        connected_at=ois.connected_at,
        self_assessment=ois.self_assessment,
        agreement_file=agreement.file_name if agreement else None,
        agreement_state=agreement.state.value if agreement else None,
        agreement_number=agreement.number if agreement else None,
        agreement_date=agreement.agreement_date if agreement else None,
        agreement_signer=agreement.signer_name if agreement else None,
        reviews=[
            ReviewRow(
                id=r.id,
                round=r.round.value,
                round_label=ROUND_LABELS_UK[r.round],
                submission_no=r.submission_no,
                outcome=r.outcome.value,
                reviewer=names.get(r.reviewer_id, "—"),
                at=r.created_at,
                items=r.items,
                comment=r.comment,
                conclusion_id=conclusions[r.id].id if r.id in conclusions else None,
                conclusion_number=conclusions[r.id].number if r.id in conclusions else None,
            )
            for r in reviews
        ],
        active_grants=int(grants or 0),
        process_id=process_id,
        open_step=open_step,
        reviewer_id=review.reviewer_id if review else None,
    )


def my_systems(*, session: Session, person_id: int) -> list[OisCard]:
    """«Моя ОІС»: every ОІС of the operator's company, newest first."""
    _, company = operator_of(session, person_id)
    rows = session.scalars(
        select(Ois).where(Ois.operator_org_unit_id == company.id).order_by(Ois.id.desc())
    ).all()
    return [_card(session, ois) for ois in rows]


def staff_applications(*, session: Session, viewer_id: int, states: Sequence[OisState] = ()) -> list[OisCard]:
    """«ОІС» (tab «Заявки та перевірки»): every application (of these states), newest first — institute
    staff only."""
    viewer = session.get(Person, viewer_id)
    if viewer is None or viewer.role not in STAFF_ROLES or viewer.state != PersonState.ACTIVE:
        raise NotAllowedToSee()
    query = select(Ois).order_by(Ois.id.desc())
    if states:
        query = query.where(Ois.state.in_(states))
    return [_card(session, ois) for ois in session.scalars(query)]


def ois_card(*, session: Session, viewer_id: int, ois_id: int) -> OisCard:
    """One ОІС as the viewer may see it (its operator, or institute staff)."""
    viewer = session.get(Person, viewer_id)
    ois = get_ois(session, ois_id)
    if viewer is None or not _may_see(session, viewer, ois):
        raise NotAllowedToSee()
    return _card(session, ois)


@dataclass(frozen=True)
class ConclusionFile:
    """A conclusion as downloaded: the signed document and its detached signature."""

    number: str
    file_name: str
    document: bytes
    signature: bytes


def conclusion_file(*, session: Session, viewer_id: int, conclusion_id: int) -> ConclusionFile:
    """The signed conclusion, for its operator and institute staff only."""
    conclusion = session.get(OisConclusion, conclusion_id)
    if conclusion is None:
        raise NotFound(f"Висновок № {conclusion_id} не знайдено.")
    viewer = session.get(Person, viewer_id)
    if viewer is None or not _may_see(session, viewer, get_ois(session, conclusion.ois_id)):
        raise NotAllowedToSee()
    return ConclusionFile(
        number=conclusion.number,
        file_name=f"висновок-{conclusion.number}.json",
        document=conclusion.document,
        signature=conclusion.signature,
    )
