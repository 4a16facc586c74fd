"""A person card's fields are checked by the same rules as every form and command."""

from __future__ import annotations

import pytest

from aikom.core.errors import ValidationFailed
from aikom.services.persons import PersonData, validate_person_data

RNOKPP = "1759013776"


def test_a_valid_card_is_kept_tidy() -> None:
    data = validate_person_data(PersonData("  Іваненко   Іван ", " ivan@school.ua ", RNOKPP))
    assert (data.full_name, data.email) == ("Іваненко Іван", "ivan@school.ua")


@pytest.mark.parametrize(
    ("email", "rule"),
    [
        ("ivan", "потрібна адреса виду ім'я@домен.укр"),
        ("ivan@school", "потрібна адреса виду ім'я@домен.укр"),
        # A Cyrillic «о» typed for a Latin one: a mail relay would refuse the address later.
        ("ivan@schоol.ua", "лише латинські літери"),
    ],
)
def test_an_email_a_relay_would_refuse_names_the_field_and_the_rule(email: str, rule: str) -> None:
    with pytest.raises(ValidationFailed) as failed:
        validate_person_data(PersonData("Іваненко Іван", email, RNOKPP))
    assert failed.value.field == "email"
    assert str(failed.value.message_uk).startswith("Електронна пошта: ") and rule in failed.value.message_uk
