"""Identity rules of a register row (pure, no database)."""

from __future__ import annotations

import pytest

from aikom.imports.identity import IdentityRefused, check_edebo_id, check_edrpou


def test_a_valid_edrpou_passes_unchanged() -> None:
    checked = check_edrpou("26338802", required=True)
    assert checked is not None and checked.code == "26338802" and checked.warning is None


@pytest.mark.parametrize(
    ("raw", "code", "fragment"),
    [
        ("26338803", "bad_check_digit", "неправильну контрольну цифру (очікувалась 2)"),
        ("822447", "edrpou_lost_zeros", "має 6 цифр замість 8 — втрачено початкові нулі"),
        ("0000", "edrpou_lost_zeros", "заповнювач"),
        ("00000000", "placeholder_edrpou", "заповнювач"),
        ("12345678", "placeholder_edrpou", "заповнювач"),
        ("null", "missing_edrpou", "Немає коду ЄДРПОУ"),
        ("", "missing_edrpou", "Немає коду ЄДРПОУ"),
        ("2633880A", "invalid_edrpou", "лише цифри"),
        ("263388021", "invalid_edrpou", "довший за 8 цифр"),
    ],
)
def test_refusals_name_the_rule_in_ukrainian(raw: str, code: str, fragment: str) -> None:
    with pytest.raises(IdentityRefused) as refused:
        check_edrpou(raw, required=True)
    assert refused.value.code == code
    assert fragment in refused.value.reason


def test_lost_leading_zeros_are_restored_only_when_the_check_digit_agrees() -> None:
    checked = check_edrpou("2142879", required=True)
    assert checked is not None and checked.code == "02142879"
    assert checked.warning and "втратив початкові нулі" in checked.warning
    # A spreadsheet float keeps the same code.
    again = check_edrpou("26338802.0", required=True)
    assert again is not None and again.code == "26338802"


def test_an_optional_edrpou_may_be_empty() -> None:
    assert check_edrpou("", required=False) is None


def test_edebo_id_rules() -> None:
    assert check_edebo_id("0143595", required=True) == "143595"
    with pytest.raises(IdentityRefused, match="лише цифри"):
        check_edebo_id("14A5", required=True)
    with pytest.raises(IdentityRefused, match="Немає коду в ЄДЕБО"):
        check_edebo_id(" ", required=True)
