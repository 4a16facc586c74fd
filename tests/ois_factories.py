"""Small factories for ОІС test data: a CONNECTED ОІС as the connection process leaves it (agreement
approved, connection review passed, a `receive` phase from its connection), an extended review, a school's
grant bound to an API key."""

from __future__ import annotations

import itertools
import secrets
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.models import (
    AccessKey,
    Account,
    GrantState,
    KeyKind,
    KeyState,
    Ois,
    OisCapability,
    OisGrant,
    OisPhase,
    OisReview,
    OisState,
    OrgUnit,
    Person,
    ReviewOutcome,
    ReviewRound,
)
from tests import factories as f

_seq = itertools.count(1)


def connected_ois(
    session: Session,
    *,
    reviewer: Person,
    name: str | None = None,
    company: str | None = None,
    site: str | None = "https://journal.example.ua",
    contact_email: str | None = None,
    contact_name: str = "Коваль Петро Іванович",
    contact_phone: str | None = "+380441234567",
    connected_at: datetime | None = None,
    state: OisState = OisState.CONNECTED,
) -> Ois:
    """An ОІС connected at `connected_at`: agreement approved, connection review passed, `receive` phase."""
    ois = f.connected_ois(
        session,
        name=name,
        company=company,
        site=site,
        contact_email=contact_email,
        contact_name=contact_name,
        contact_phone=contact_phone,
        connected_at=connected_at or datetime(2024, 3, 1, 9, 0, tzinfo=UTC),
        state=state.value,
    )
    review = review_of(session, ois, reviewer=reviewer, round_=ReviewRound.CONNECTION)
    for phase in session.scalars(select(OisPhase).where(OisPhase.ois_id == ois.id)):
        phase.review_id = review.id
    session.flush()
    return ois


def review_of(
    session: Session,
    ois: Ois,
    *,
    reviewer: Person,
    round_: ReviewRound = ReviewRound.EXTENDED,
    outcome: ReviewOutcome = ReviewOutcome.PASSED,
) -> OisReview:
    """A conformity review of `ois` (the extended one, passed, unless told)."""
    review = OisReview(
        ois_id=ois.id,
        round=round_,
        submission_no=1,
        reviewer_id=reviewer.id,
        items=[{"code": "X", "passed": outcome == ReviewOutcome.PASSED, "note": ""}],
        outcome=outcome,
    )
    session.add(review)
    session.flush()
    return review


def api_key(session: Session, account: Account) -> AccessKey:
    """An active API key of `account` (its secret is of no use here)."""
    key = AccessKey(
        account_id=account.id,
        kind=KeyKind.API,
        public_id=f"test{secrets.token_hex(8)}",
        secret_hash=secrets.token_bytes(32),
        pepper_id="test",
        scopes=[],
        state=KeyState.ACTIVE,
    )
    session.add(key)
    session.flush()
    return key


def grant(
    session: Session, ois: Ois, school: OrgUnit, key: AccessKey, *, granted_by: Person | None = None
) -> OisGrant:
    """An active grant of `school` to `ois` under `key`."""
    row = OisGrant(
        ois_id=ois.id,
        school_org_unit_id=school.id,
        api_key_id=key.id,
        state=GrantState.ACTIVE,
        granted_by_id=granted_by.id if granted_by else None,
        capability=OisCapability.RECEIVE,
        data_sets=["pupils"],
        contract_number=f"К-{next(_seq)}",
        contract_date=date(2024, 9, 1),
    )
    session.add(row)
    session.flush()
    return row
