"""Cascade provisioning and deputies: who may create whose card, and every refusal changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from aikom.core.actor import Actor
from aikom.core.errors import DomainError, NotInScope, RoleNotAllowed, ValidationFailed
from aikom.models import (
    Account,
    AccountState,
    DeactivationReason,
    EmailMessage,
    KeyDelivery,
    OrgLevel,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
    Process,
)
from aikom.processes.cascade_provisioning import CascadeProvisioningParams
from aikom.processes.deputy import DeputyParams
from aikom.services import accounts, provisioning
from aikom.services.appointments import PersonAlreadyInRole
from aikom.services.housekeeping import purge_expired
from tests import factories


def _actor(person: Person) -> Actor:
    return Actor(person_id=person.id, label=person.full_name)


def _params(unit: str, rnokpp: str | None = None, email: str | None = None) -> CascadeProvisioningParams:
    return CascadeProvisioningParams.model_validate(
        {
            "unit": unit,
            "person": {
                "full_name": "Бондар Марія Олексіївна",
                "rnokpp": rnokpp or factories.rnokpp(),
                "email": "bondar@example.org",
                "position": "Начальник відділу освіти",
            },
            "official_email": email,
        }
    )


def _world(session: Session) -> dict[str, OrgUnit | Person]:
    units = factories.cascade(session, with_edrpou=True)
    admins = {
        level: factories.person(
            session, factories.account(session, units[level]), role=role, rnokpp=factories.rnokpp()
        )
        for level, role in (
            ("oblast", PersonRole.OBLAST_ADMIN),
            ("rayon", PersonRole.RAYON_ADMIN),
            ("hromada", PersonRole.HROMADA_ADMIN),
        )
    }
    units["school"].official_email = "school@example.org"
    return {**units, **{f"{k}_admin": v for k, v in admins.items()}}


def _count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _start(session: Session, admin: Person, unit: OrgUnit, **kwargs: str | None) -> Process:
    return provisioning.start_provisioning(
        session=session, actor=_actor(admin), params=_params(f"id:{unit.id}", **kwargs)
    )


def test_each_level_opens_the_level_below_and_a_school_is_opened_by_its_managing_body(
    session: Session,
) -> None:
    w = _world(session)
    hromada = w["hromada"]
    assert isinstance(hromada, OrgUnit)
    hromada.official_email = "hromada@example.org"
    process = _start(session, w["rayon_admin"], hromada)  # type: ignore[arg-type]
    assert process.parameters["role"] == "hromada_admin"
    assert process.parameters["official_email"] == "hromada@example.org"
    # The РНОКПП is sealed in the parameters, never in clear.
    assert process.parameters["person_rnokpp_sealed"] and "rnokpp" not in process.parameters["person"]
    school = _start(session, w["hromada_admin"], w["school"])  # type: ignore[arg-type]
    assert school.parameters["role"] == "director"


@pytest.mark.parametrize(
    ("admin", "unit", "error", "words"),
    [
        ("oblast_admin", "hromada", provisioning.NotOneLevelDown, "не на рівень нижче"),
        ("rayon_admin", "school", provisioning.NotOneLevelDown, "ОУО, що ним керує"),
        ("hromada_admin", "rayon", NotInScope, "поза вашою територією"),
    ],
)
def test_two_levels_down_or_out_of_scope_is_refused(
    session: Session, admin: str, unit: str, error: type[DomainError], words: str
) -> None:
    w = _world(session)
    before = _count(session, Process)
    with pytest.raises(error) as refused:
        _start(session, w[admin], w[unit], email="x@example.org")  # type: ignore[arg-type]
    assert words in refused.value.message_uk
    assert _count(session, Process) == before


def test_refusals_name_the_field_and_the_rule(session: Session) -> None:
    w = _world(session)
    school, admin = w["school"], w["hromada_admin"]
    assert isinstance(school, OrgUnit) and isinstance(admin, Person)

    # No official email anywhere: the base key would have nowhere to go.
    school.official_email = None
    with pytest.raises(ValidationFailed) as no_email:
        _start(session, admin, school)
    assert no_email.value.message_uk.startswith("Офіційна електронна пошта")

    # A РНОКПП that is already a current director elsewhere: said so, with the unit.
    other = factories.org_unit(session, level=OrgLevel.SCHOOL, parent=w["hromada"], name="Ліцей № 9")  # type: ignore[arg-type]
    other_account = factories.account(session, other)
    busy = factories.rnokpp()
    factories.person(session, other_account, role=PersonRole.DIRECTOR, rnokpp=busy)
    with pytest.raises(PersonAlreadyInRole) as taken:
        _start(session, admin, school, rnokpp=busy, email="s@example.org")
    assert "Ліцей № 9" in taken.value.message_uk and taken.value.message_uk.startswith("РНОКПП")

    # A school with a director: the replacement is the way.
    with pytest.raises(provisioning.SchoolHasDirector):
        _start(session, admin, other)

    # A deactivated school account is final: no new account, and said so.
    other_account.state = AccountState.DEACTIVATED
    other_account.deactivation_reason = DeactivationReason.LIQUIDATION
    other_account.deactivated_at = datetime.now(UTC)
    session.flush()
    for p in session.scalars(select(Person).where(Person.account_id == other_account.id)):
        p.state = PersonState.INACTIVE
    session.flush()
    with pytest.raises(accounts.AccountFinallyDeactivated) as final:
        _start(session, admin, other, email="s@example.org")
    assert "не підлягає подальшому використанню" in final.value.message_uk

    # A deputy (or any non-admin) starts nothing of the cascade.
    director = factories.person(session, factories.account(session, school), role=PersonRole.DIRECTOR)
    with pytest.raises(RoleNotAllowed):
        _start(session, director, school)


def test_opening_an_account_keeps_its_secrets_encrypted_and_shows_the_api_key_once(session: Session) -> None:
    w = _world(session)
    school = w["school"]
    assert isinstance(school, OrgUnit)
    admin = w["hromada_admin"]
    assert isinstance(admin, Person)
    opened = accounts.open_account(
        session=session,
        unit=school,
        official_email="school@example.org",
        actor=_actor(admin),
        deadline=None,
        idempotency_key=f"test-open-{school.id}",
    )
    assert opened.opened
    message = session.get_one(EmailMessage, opened.email_id)
    assert message.secret_ciphertext is not None and "aikb_" not in str(message.variables)
    # Opening again issues nothing: the account already holds keys.
    again = accounts.open_account(
        session=session,
        unit=school,
        official_email="school@example.org",
        actor=_actor(admin),
        deadline=None,
        idempotency_key=f"test-open-{school.id}-2",
    )
    assert not again.opened
    account = session.get_one(Account, opened.account_id)
    director = factories.person(session, account, role=PersonRole.DIRECTOR)
    deputy = factories.person(session, account, role=PersonRole.DEPUTY)
    # A deputy is never shown the key; the director is, once.
    assert accounts.reveal_api_key(session=session, person_id=deputy.id) is None
    shown = accounts.reveal_api_key(session=session, person_id=director.id)
    assert shown is not None and shown.token.startswith("aika_")
    assert accounts.reveal_api_key(session=session, person_id=director.id) is None
    # An unrevealed key is erased when its window ends.
    other = factories.org_unit(session, level=OrgLevel.SCHOOL, parent=w["hromada"])  # type: ignore[arg-type]
    accounts.open_account(
        session=session,
        unit=other,
        official_email="other@example.org",
        actor=_actor(admin),
        deadline=None,
        idempotency_key=f"test-open-{other.id}",
    )
    later = datetime.now(UTC) + timedelta(days=accounts.API_KEY_DELIVERY_DAYS + 1)
    assert purge_expired(session=session, now=later).key_deliveries_erased >= 1
    assert session.scalar(select(func.count()).where(KeyDelivery.ciphertext.is_not(None))) == 0


def test_a_director_deactivates_an_active_deputy_of_their_own_school_only(session: Session) -> None:
    w = _world(session)
    school = w["school"]
    assert isinstance(school, OrgUnit)
    account = factories.account(session, school)
    director = factories.person(session, account, role=PersonRole.DIRECTOR)
    deputy = factories.person(session, account, role=PersonRole.DEPUTY, appointed_by=director)
    pending = factories.person(session, account, role=PersonRole.DEPUTY, state=PersonState.PENDING)
    elsewhere = factories.org_unit(session, level=OrgLevel.SCHOOL, parent=w["hromada"])  # type: ignore[arg-type]
    stranger = factories.person(session, factories.account(session, elsewhere), role=PersonRole.DIRECTOR)

    with pytest.raises(NotInScope):
        provisioning.deactivate_deputy(session=session, actor=_actor(stranger), deputy_id=deputy.id)
    with pytest.raises(provisioning.DeputyNotDeactivatable):
        provisioning.deactivate_deputy(session=session, actor=_actor(director), deputy_id=pending.id)
    with pytest.raises(RoleNotAllowed):
        provisioning.deactivate_deputy(session=session, actor=_actor(deputy), deputy_id=deputy.id)
    provisioning.deactivate_deputy(session=session, actor=_actor(director), deputy_id=deputy.id)
    assert session.get_one(Person, deputy.id).state == PersonState.INACTIVE
    assert session.scalar(
        select(func.count()).where(EmailMessage.idempotency_key == f"deputy-{deputy.id}-deactivated")
    )
    listed = provisioning.deputies_of(session=session, director_id=director.id)
    assert {d.id: d.state for d in listed} == {
        deputy.id: PersonState.INACTIVE,
        pending.id: PersonState.PENDING,
    }

    # A deputy who is a current director elsewhere may not be appointed; nor a second deputy card.
    with pytest.raises(PersonAlreadyInRole):
        rnokpp = factories.rnokpp()
        factories.person(session, account, role=PersonRole.DEPUTY, rnokpp=rnokpp)
        provisioning.start_deputy(
            session=session,
            actor=_actor(director),
            params=DeputyParams.model_validate(
                {
                    "person": {
                        "full_name": "Дубль Особа",
                        "rnokpp": rnokpp,
                        "email": "d@example.org",
                        "position": "З",
                    }
                }
            ),
        )


def test_the_start_form_lists_the_units_one_level_down(session: Session) -> None:
    w = _world(session)
    admin = w["hromada_admin"]
    assert isinstance(admin, Person)
    listed = provisioning.provisionable_units(session=session, person_id=admin.id)
    assert [u.id for u in listed] == [w["school"].id]  # type: ignore[union-attr]
    assert listed[0].account_state is None and listed[0].persons == 0
