"""Refusals keep their class, reason code, Ukrainian message and context through pickling (a Prefect
step hands its failure to the flow that way)."""

from __future__ import annotations

import pickle

from aikom.core.errors import DomainError, NotInScope, ValidationFailed
from aikom.services.directors import SchoolWithoutAccount


def test_a_validation_refusal_survives_pickling_with_its_field() -> None:
    error = ValidationFailed("order_no", "Номер наказу про призначення: обов'язкове поле.")
    again = pickle.loads(pickle.dumps(error))
    assert type(again) is ValidationFailed
    assert (again.code, again.field, again.message_uk) == ("validation_failed", "order_no", error.message_uk)
    assert str(again) == error.message_uk


def test_refusals_with_their_own_constructors_survive_pickling() -> None:
    for error in (SchoolWithoutAccount(42), NotInScope("Поза вашою зоною.", unit_id=7), DomainError("Ні.")):
        again = pickle.loads(pickle.dumps(error))
        assert type(again) is type(error)
        assert (again.code, again.message_uk, again.context) == (error.code, error.message_uk, error.context)
