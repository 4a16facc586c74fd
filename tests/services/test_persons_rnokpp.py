"""A person's РНОКПП at rest: encrypted and bound to its row, found by blind index, refused when wrong."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from aikom.core.crypto import DecryptionFailed
from aikom.core.errors import ValidationFailed
from aikom.models import Person, PersonRole, PersonState
from aikom.services.persons import find_persons_by_rnokpp, needs_reencryption, read_rnokpp, set_rnokpp
from aikom.settings import Settings
from tests import factories as f

RNOKPP = "1759013776"
OTHER = "2530414071"


def _director(session: Session) -> Person:
    units = f.cascade(session)
    return f.person(session, f.account(session, units["school"]), role=PersonRole.DIRECTOR)


def test_stored_encrypted_and_read_back_after_reload(session: Session) -> None:
    person = _director(session)
    set_rnokpp(session=session, person=person, rnokpp=" 1759013776 ")
    raw = session.execute(
        text("SELECT rnokpp_ciphertext, rnokpp_key_id, rnokpp_blind_index FROM person WHERE id = :id"),
        {"id": person.id},
    ).one()
    assert RNOKPP.encode() not in raw.rnokpp_ciphertext
    assert raw.rnokpp_key_id == "k1" and len(raw.rnokpp_blind_index) == 32
    session.expire_all()
    assert read_rnokpp(session.get(Person, person.id)) == RNOKPP  # type: ignore[arg-type]


def test_a_new_person_is_flushed_first_to_bind_the_ciphertext_to_its_id(session: Session) -> None:
    director = _director(session)
    deputy = Person(
        account_id=director.account_id,
        org_unit_id=director.org_unit_id,
        role=PersonRole.DEPUTY,
        state=PersonState.PENDING,
        full_name="Заступниця",
        email="deputy@example.org",
    )
    set_rnokpp(session=session, person=deputy, rnokpp=RNOKPP)
    assert deputy.id is not None and read_rnokpp(deputy) == RNOKPP


def test_no_rnokpp_reads_as_none(session: Session) -> None:
    assert read_rnokpp(_director(session)) is None


def test_a_ciphertext_copied_to_another_row_does_not_decrypt(session: Session) -> None:
    victim = _director(session)
    other = _director(session)
    set_rnokpp(session=session, person=victim, rnokpp=RNOKPP)
    set_rnokpp(session=session, person=other, rnokpp=OTHER)
    session.execute(
        text(
            "UPDATE person SET rnokpp_ciphertext = v.rnokpp_ciphertext FROM person v "
            "WHERE person.id = :other AND v.id = :victim"
        ),
        {"other": other.id, "victim": victim.id},
    )
    session.expire_all()
    with pytest.raises(DecryptionFailed) as caught:
        read_rnokpp(session.get(Person, other.id))  # type: ignore[arg-type]
    assert "розшифрувати" in caught.value.message_uk


def test_a_tampered_ciphertext_does_not_decrypt(session: Session) -> None:
    person = _director(session)
    set_rnokpp(session=session, person=person, rnokpp=RNOKPP)
    blob = bytearray(person.rnokpp_ciphertext or b"")
    blob[-5] ^= 0x80
    person.rnokpp_ciphertext = bytes(blob)
    session.flush()
    with pytest.raises(DecryptionFailed):
        read_rnokpp(person)


def test_blind_index_finds_every_card_of_the_person_and_nobody_else(session: Session) -> None:
    first, second, stranger = _director(session), _director(session), _director(session)
    set_rnokpp(session=session, person=first, rnokpp=RNOKPP)
    set_rnokpp(session=session, person=second, rnokpp=RNOKPP)
    set_rnokpp(session=session, person=stranger, rnokpp=OTHER)
    found = find_persons_by_rnokpp(session=session, rnokpp="17590 13776")
    assert [p.id for p in found] == [first.id, second.id]
    assert find_persons_by_rnokpp(session=session, rnokpp="3333333332") == []


def test_a_bad_check_digit_is_refused_and_nothing_changes(session: Session) -> None:
    person = _director(session)
    with pytest.raises(ValidationFailed) as caught:
        set_rnokpp(session=session, person=person, rnokpp="1759013770")
    assert caught.value.field == "rnokpp" and "контрольну цифру" in caught.value.message_uk
    session.expire_all()
    row = session.scalars(select(Person).where(Person.id == person.id)).one()
    assert row.rnokpp_ciphertext is None and row.rnokpp_blind_index is None
    with pytest.raises(ValidationFailed):
        find_persons_by_rnokpp(session=session, rnokpp="12345")


def test_key_rotation_keeps_old_values_readable_and_new_writes_use_the_new_key(session: Session) -> None:
    old = Settings(rnokpp_key_id="k1", rnokpp_keys={"k1": "11" * 32})
    rotated = Settings(rnokpp_key_id="k2", rnokpp_keys={"k1": "11" * 32, "k2": "22" * 32})
    person = _director(session)
    set_rnokpp(session=session, person=person, rnokpp=RNOKPP, settings=old)

    assert read_rnokpp(person, settings=rotated) == RNOKPP
    assert needs_reencryption(person, settings=rotated)
    set_rnokpp(session=session, person=person, rnokpp=RNOKPP, settings=rotated)
    assert person.rnokpp_key_id == "k2" and not needs_reencryption(person, settings=rotated)
    assert find_persons_by_rnokpp(session=session, rnokpp=RNOKPP, settings=rotated)[0].id == person.id
