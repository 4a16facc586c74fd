"""The pure rules of branch linking: what of a name identifies a school, and when one hub clearly wins."""

from __future__ import annotations

from aikom.core.branch_names import (
    BranchName,
    Candidate,
    identifying_words,
    name_similarity,
    rank,
    stem,
    unique_fit,
)


def test_case_endings_and_generic_words_do_not_count() -> None:
    assert stem("ліцею") == stem("ліцей") and stem("Первозванівського".lower()) == stem("первозванівський")
    words = identifying_words("Первозванівський ліцей Первозванівської сільської ради Кропивницького району")
    assert words == {"первозванів"}  # the council, the rayon and «ліцей» are not the school's name


def test_a_branch_name_splits_into_its_own_words_and_its_hub() -> None:
    name = BranchName.parse(
        "Федорівська філія Первозванівського ліцею Первозванівської сільської ради", "с. Федорівка, район"
    )
    assert name.own == {"федорів"} and name.hub == {"первозванів"}
    assert name_similarity(name, "Первозванівський ліцей Первозванівської сільської ради") == 100
    # The branch's own former school (its village) is not its hub.
    assert name_similarity(name, "Федорівська гімназія Первозванівської сільської ради") == 0


def test_different_numbers_rule_a_school_out() -> None:
    name = BranchName.parse("Юнашківська філія Бурштинського ліцею №2", "с. Юнашків")
    assert name_similarity(name, "Бурштинський ліцей № 2") == 100
    assert name_similarity(name, "Бурштинський ліцей № 1") == 0


def _candidate(hub_id: int, name_score: float, body: bool | None = True, place: bool = True) -> Candidate:
    return Candidate(hub_id, f"Заклад {hub_id}", name_score, body, place, marked_hub=False)


def test_only_one_clearly_leading_fitting_candidate_is_linked() -> None:
    assert unique_fit(rank([_candidate(1, 100), _candidate(2, 72)])) == _candidate(1, 100)
    assert unique_fit(rank([_candidate(1, 100), _candidate(2, 100)])) is None  # two alike: queued
    assert unique_fit(rank([_candidate(1, 100, body=None, place=False)])) is None  # name only: queued
    assert rank([_candidate(1, 65)]) == []  # too unlike to be a candidate at all
    ranked = rank([_candidate(1, 80), _candidate(2, 95, body=False)])
    assert [c.hub_id for c in ranked] == [1, 2] and "інший орган управління" in ranked[1].why()
