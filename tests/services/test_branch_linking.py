"""Linking the register's branches to their hubs: automatic where one hub fits, a queue otherwise, never
across oblasts; a person's confirmation from the queue, and the refusals."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from aikom.core.errors import DomainError
from aikom.imports import import_katottg, import_schools, register_paths
from aikom.models import (
    Account,
    AuditEntry,
    BranchLink,
    BranchLinkOutcome,
    OrgLevel,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
)
from aikom.services.branch_linking import (
    BranchHasUnits,
    BranchNotInScope,
    HubInAnotherOblast,
    HubIsABranch,
    MayNotLinkBranches,
    branch_queue,
    confirm_branch_link,
    link_branches,
)
from aikom.settings import Settings
from tests import factories as f
from tests.imports.helpers import FIXTURES, import_fixture_katottg, import_fixture_schools, throwaway_database

BRANCHES = FIXTURES / "branches.csv"
UNIQUE, AMBIGUOUS, MISSING, ELSEWHERE = "900001", "900003", "900004", "900005"
ZNAMIANKA_HUB, PETRIVKA_LYCEUM, PETRIVKA_GYMNASIUM = "145907", "146399", "900002"


def _unit(session: Session, edebo_id: str) -> OrgUnit:
    return session.scalars(select(OrgUnit).where(OrgUnit.edebo_id == edebo_id)).one()


def _link(session: Session, edebo_id: str) -> BranchLink:
    return session.get_one(BranchLink, _unit(session, edebo_id).id)


@pytest.fixture
def excerpt(session: Session) -> Session:
    """The fixture codifier and the branch excerpt imported, then linked once."""
    import_fixture_katottg(session)
    import_fixture_schools(session, BRANCHES)
    link_branches(session=session)
    return session


def _admin(
    session: Session, unit: OrgUnit, role: PersonRole, state: PersonState = PersonState.ACTIVE
) -> Person:
    """A person of `role` acting for `unit` (its account made once)."""
    account = session.scalars(select(Account).where(Account.org_unit_id == unit.id)).first()
    return f.person(session, account or f.account(session, unit), role=role, state=state)


def test_the_import_keeps_the_hub_branch_mark_and_the_managing_body(excerpt: Session) -> None:
    hub, branch, plain = (_unit(excerpt, e) for e in (ZNAMIANKA_HUB, UNIQUE, "135909"))
    assert (hub.edebo_mark, branch.edebo_mark, plain.edebo_mark) == ("hub", "branch", None)
    assert hub.managing_body_name == "Відділ освіти, культури, молоді та спорту Знам'янської сільської ради"


def test_a_unique_hub_is_linked_and_the_branch_moves_under_it(excerpt: Session) -> None:
    hub, branch = _unit(excerpt, ZNAMIANKA_HUB), _unit(excerpt, UNIQUE)
    link = _link(excerpt, UNIQUE)
    assert link.outcome == BranchLinkOutcome.LINKED and link.hub_id == hub.id
    assert (
        link.candidates[0]["hub_id"] == hub.id and "той самий орган управління" in link.candidates[0]["why"]
    )
    assert branch.level == OrgLevel.BRANCH and branch.parent_id == hub.id
    assert branch.lineage == [*hub.lineage, branch.id]
    assert (branch.managing_body_id, branch.oblast_id) == (hub.managing_body_id, hub.oblast_id)
    assert not branch.needs_placement and branch.placement_note is None
    entry = excerpt.scalars(
        select(AuditEntry).where(AuditEntry.action == "branch.linked", AuditEntry.object_id == str(branch.id))
    ).one()
    assert entry.details["hub_id"] == hub.id


def test_two_alike_hubs_queue_the_branch_with_both_ranked(excerpt: Session) -> None:
    link = _link(excerpt, AMBIGUOUS)
    assert link.outcome == BranchLinkOutcome.QUEUED and link.hub_id is None
    hubs = {_unit(excerpt, e).id for e in (PETRIVKA_LYCEUM, PETRIVKA_GYMNASIUM)}
    assert {c["hub_id"] for c in link.candidates} == hubs
    assert all(c["why"] and c["score"] > 0 for c in link.candidates)
    assert _unit(excerpt, AMBIGUOUS).level == OrgLevel.SCHOOL  # still waiting where the import put it


def test_a_missing_hub_and_a_look_alike_in_another_oblast_give_no_candidate(excerpt: Session) -> None:
    for edebo_id in (MISSING, ELSEWHERE):
        link = _link(excerpt, edebo_id)
        assert link.outcome == BranchLinkOutcome.NO_CANDIDATE and link.candidates == [], edebo_id
    # The Zaporizhzhia branch names the Odesa hub, which is never a candidate across oblasts.
    assert _unit(excerpt, ELSEWHERE).parent_id != _unit(excerpt, ZNAMIANKA_HUB).id


def test_re_running_changes_nothing_decided(excerpt: Session) -> None:
    before = {link.branch_id: (link.outcome, link.hub_id, link.updated_at) for link in excerpt.scalars(
        select(BranchLink))}  # fmt: skip
    audited = len(excerpt.scalars(select(AuditEntry.id)).all())
    counts = link_branches(session=excerpt)
    after = {link.branch_id: (link.outcome, link.hub_id, link.updated_at) for link in excerpt.scalars(
        select(BranchLink))}  # fmt: skip
    assert after == before
    assert len(excerpt.scalars(select(AuditEntry.id)).all()) == audited
    assert counts.total >= 4 and counts.linked >= 1


def test_the_managing_admin_confirms_a_candidate_and_a_rerun_keeps_it(excerpt: Session) -> None:
    branch, gymnasium = _unit(excerpt, AMBIGUOUS), _unit(excerpt, PETRIVKA_GYMNASIUM)
    hromada = excerpt.get_one(OrgUnit, branch.parent_id)
    admin = _admin(excerpt, hromada, PersonRole.HROMADA_ADMIN)
    page = branch_queue(session=excerpt, actor=admin)
    assert [r.branch_id for r in page.rows] == [branch.id] and page.no_candidate == 1
    assert {c.hub_id for c in page.rows[0].candidates} >= {gymnasium.id}

    link = confirm_branch_link(session=excerpt, actor=admin, branch_id=branch.id, hub_id=gymnasium.id)
    assert link.outcome == BranchLinkOutcome.CONFIRMED and link.decided_by_id == admin.id
    excerpt.refresh(branch)
    assert branch.level == OrgLevel.BRANCH and branch.parent_id == gymnasium.id
    assert (
        excerpt.scalars(
            select(AuditEntry).where(
                AuditEntry.action == "branch.confirmed", AuditEntry.object_id == str(branch.id)
            )
        )
        .one()
        .actor_person_id
        == admin.id
    )

    link_branches(session=excerpt)
    assert _link(excerpt, AMBIGUOUS).outcome == BranchLinkOutcome.CONFIRMED
    assert _unit(excerpt, AMBIGUOUS).parent_id == gymnasium.id
    assert branch_queue(session=excerpt, actor=admin).rows == []


def test_an_institute_admin_links_a_branch_to_another_hub_of_its_oblast(excerpt: Session) -> None:
    national = excerpt.scalars(select(OrgUnit).where(OrgUnit.level == OrgLevel.NATIONAL)).first()
    assert national is not None
    admin = _admin(excerpt, national, PersonRole.INSTITUTE_ADMIN)
    branch, other = _unit(excerpt, MISSING), _unit(excerpt, "135909")  # not a candidate, same oblast
    link = confirm_branch_link(session=excerpt, actor=admin, branch_id=branch.id, hub_id=other.id)
    assert link.outcome == BranchLinkOutcome.CONFIRMED and link.hub_id == other.id


def _refusal(session: Session, actor: Person, branch: str, hub: str) -> DomainError:
    with pytest.raises(DomainError) as caught:
        confirm_branch_link(
            session=session,
            actor=actor,
            branch_id=_unit(session, branch).id,
            hub_id=_unit(session, hub).id,
        )
    return caught.value


def test_refusals_name_the_rule(excerpt: Session) -> None:
    branch = _unit(excerpt, AMBIGUOUS)
    hromada = excerpt.get_one(OrgUnit, branch.parent_id)
    admin = _admin(excerpt, hromada, PersonRole.HROMADA_ADMIN)

    refused = _refusal(excerpt, admin, AMBIGUOUS, UNIQUE)
    assert isinstance(refused, HubIsABranch) and "сам є філією" in refused.message_uk

    oblast_admin = _admin(
        excerpt, excerpt.get_one(OrgUnit, _unit(excerpt, ELSEWHERE).oblast_id), PersonRole.OBLAST_ADMIN
    )
    refused = _refusal(excerpt, oblast_admin, ELSEWHERE, ZNAMIANKA_HUB)
    assert isinstance(refused, HubInAnotherOblast) and "іншій області" in refused.message_uk

    refused = _refusal(excerpt, oblast_admin, AMBIGUOUS, PETRIVKA_LYCEUM)  # an Odesa branch
    assert isinstance(refused, BranchNotInScope) and "не перебуває у сфері управління" in refused.message_uk

    school = _unit(excerpt, PETRIVKA_LYCEUM)
    director = _admin(excerpt, school, PersonRole.DIRECTOR)
    refused = _refusal(excerpt, director, AMBIGUOUS, PETRIVKA_LYCEUM)
    assert isinstance(refused, MayNotLinkBranches) and "адміністратори ОУО" in refused.message_uk
    with pytest.raises(MayNotLinkBranches):
        branch_queue(session=excerpt, actor=director)

    pending = _admin(excerpt, hromada, PersonRole.HROMADA_ADMIN, PersonState.PENDING)
    assert isinstance(_refusal(excerpt, pending, AMBIGUOUS, PETRIVKA_LYCEUM), MayNotLinkBranches)

    f.org_unit(excerpt, level=OrgLevel.BRANCH, parent=branch, oblast_id=branch.oblast_id)
    assert isinstance(_refusal(excerpt, admin, AMBIGUOUS, PETRIVKA_LYCEUM), BranchHasUnits)
    assert _link(excerpt, AMBIGUOUS).outcome == BranchLinkOutcome.QUEUED  # nothing changed


# --- the real sample of the ЄДЕБО export ----------------------------------------------------------------

PATHS = register_paths(Settings())
SAMPLE = PATHS["register"].parent / "edebo-zzso-sample.csv"
# Checked by hand: branch (ЄДЕБО id) → words of its hub's name in the register.
HAND_CHECKED = {
    "150644": "Первозванівське навчально-виховне об'єднання",  # Федорівська філія Первозванівського ліцею
    "136133": "КРАСНОРІЧЕНСЬКИЙ ЗАКЛАД",  # ФІЛІЯ "БАРАНИКІВСЬКА ГІМНАЗІЯ" … "КРАСНОРІЧЕНСЬКИЙ ЛІЦЕЙ"
    "140849": "Тур’я-Реметівська загальноосвітня школа",  # Липовецька … філія Тур'є-Реметівського закладу
    "139890": "Богуславський академічний ліцей №1",  # Киданівська філія … Богуславського ліцею №1
    "147373": "Сколівська академічна гімназія",  # Кам'янський … філія … "Сколівська академічна гімназія …"
}


@pytest.mark.slow
@pytest.mark.skipif(
    not (SAMPLE.is_file() and all(p.is_file() for p in PATHS.values())),
    reason="the real registers are not here",
)
def test_the_sample_branches_are_all_linked_queued_or_reported(database_url: str) -> None:
    with throwaway_database(database_url) as url:
        engine = create_engine(url)
        with Session(engine) as session:
            import_katottg(session=session, path=PATHS["codifier"])

            def place(path: Path) -> None:
                import_schools(
                    session=session,
                    path=path,
                    codifier_path=PATHS["codifier"],
                    comparison_path=PATHS["comparison"],
                )

            place(SAMPLE)
            alone = link_branches(
                session=session
            )  # the sample alone: its branches' hubs are mostly elsewhere
            place(PATHS["register"])
            with_register = link_branches(session=session)

            branches = session.scalars(select(OrgUnit).where(OrgUnit.edebo_mark == "branch")).all()
            links = {link.branch_id: link for link in session.scalars(select(BranchLink))}
            assert len(branches) == 43 and set(links) == {b.id for b in branches}
            for branch in branches:
                link = links[branch.id]
                if link.outcome == BranchLinkOutcome.LINKED:
                    hub = session.get_one(OrgUnit, link.hub_id)
                    assert branch.parent_id == hub.id and branch.oblast_id == hub.oblast_id is not None
                    assert hub.edebo_mark != "branch" and branch.level == OrgLevel.BRANCH
            by_edebo = {b.edebo_id: b for b in branches}
            for edebo_id, hub_words in HAND_CHECKED.items():
                link = links[by_edebo[edebo_id].id]
                assert link.outcome == BranchLinkOutcome.LINKED, edebo_id
                assert hub_words in session.get_one(OrgUnit, link.hub_id).name, edebo_id
        engine.dispose()

    assert (alone.linked, alone.queued, alone.no_candidate) == (0, 1, 42)
    assert (with_register.linked, with_register.queued, with_register.no_candidate) == (24, 16, 3)
