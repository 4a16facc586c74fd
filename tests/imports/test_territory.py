"""Placing a school from КОАТУУ, oblast and settlement names (the fixture codifier; no database)."""

from __future__ import annotations

import pytest

from aikom.imports.source import normalize_name
from aikom.imports.territory import TerritoryIndex, normalize_koatuu, settlement_name
from tests.imports.helpers import BERDIANSK_HROMADA, CODIFIER, COMPARISON, KYIV, ODESA, VASYLIVKA_RAYON


@pytest.fixture(scope="module")
def index() -> TerritoryIndex:
    return TerritoryIndex.load(CODIFIER, COMPARISON)


def test_koatuu_in_the_comparison_table_gives_the_hromada(index: TerritoryIndex) -> None:
    placed = index.resolve(
        koatuu="2310400000", region="Запорізька область", settlement="Бердянськ", school_name=""
    )
    assert (placed.code, placed.kind, placed.method) == (BERDIANSK_HROMADA, "hromada", "koatuu")
    assert placed.definite and placed.note is None


def test_a_kyiv_district_code_or_the_region_gives_the_city(index: TerritoryIndex) -> None:
    by_code = index.resolve(koatuu="8036100000", region="м.Київ", settlement="Київ, Голосіївський район",
                            school_name="")  # fmt: skip
    by_region = index.resolve(koatuu=None, region="КИЇВ", settlement="Київ", school_name="")
    assert (by_code.code, by_code.kind) == (KYIV, "city")
    assert (by_region.code, by_region.kind) == (KYIV, "city")


def test_an_unknown_koatuu_falls_back_to_the_settlement_name(index: TerritoryIndex) -> None:
    placed = index.resolve(
        koatuu="2324583401", region="Запорізька область", settlement="Дівнинське", school_name="Школа"
    )
    assert placed.kind == "hromada" and placed.method == "name"


def test_an_ambiguous_settlement_goes_to_the_rayon_or_oblast_with_a_reason(index: TerritoryIndex) -> None:
    rayon = index.resolve(
        koatuu="2320383601", region="Запорізька область", settlement="Переможне", school_name=""
    )
    oblast = index.resolve(
        koatuu="5121683401", region="Одеська область", settlement="Новоселівка", school_name=""
    )
    assert (rayon.code, rayon.kind) == (VASYLIVKA_RAYON, "rayon") and not rayon.definite
    assert rayon.note and "є в 2 громадах" in rayon.note
    assert (oblast.code, oblast.kind) == (ODESA, "oblast")
    assert oblast.note and oblast.note.endswith("розміщено в області")


def test_the_council_named_in_the_school_name_settles_the_hromada(index: TerritoryIndex) -> None:
    placed = index.resolve(
        koatuu="2320381001",
        region="Запорізька область",
        settlement="Максима Горького",
        school_name='Комунальний заклад "Горьківська школа" Якимівської селищної ради',
    )
    assert placed.kind == "hromada" and placed.method == "owner"


def test_nothing_known_means_national_with_a_note(index: TerritoryIndex) -> None:
    placed = index.resolve(koatuu=None, region=None, settlement=None, school_name="Школа")
    assert placed.kind == "national" and placed.code is None and placed.note


def test_text_normalisation() -> None:
    assert normalize_koatuu("510136600") == "0510136600"
    assert normalize_koatuu("12") is None
    assert settlement_name("с. Лемешівка, Городнянський район, Чернігівська область") == "лемешівка"
    assert settlement_name("смт Красятичі, Поліський район") == "красятичі"
    assert normalize_name("Кам'янка") == normalize_name("Кам’янка") == normalize_name("КАМʼЯНКА")
    # A Latin «i» typed inside a Cyrillic name.
    assert normalize_name("Вiнниця") == normalize_name("Вінниця")
