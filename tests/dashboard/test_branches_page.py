"""«Філії» as each role sees it (Streamlit AppTest): queued branches in the person's scope with their ranked
candidate hubs, a confirmation, the empty message, and who may not open it."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.db import unit_of_work
from aikom.models import BranchLink, BranchLinkOutcome, OrgLevel, OrgUnit, PersonRole
from aikom.services.branch_linking import link_branches
from tests import factories as f
from tests.dashboard.conftest import DashboardWorld
from tests.dashboard.test_pages import _app, _texts

PAGE = "views/branches.py"
BODY = "Відділ освіти Великобуялицької сільської ради"


@dataclass(frozen=True)
class Queued:
    """A queued branch with two alike hubs in a hromada of its own, one in another oblast, and its admin."""

    branch_id: int
    hub_ids: tuple[int, int]
    far_branch: str
    hromada_admin: int


def _hromada(session: Session, national: OrgUnit, oblast_name: str) -> OrgUnit:
    oblast = f.org_unit(session, level=OrgLevel.OBLAST, parent=national, name=oblast_name)
    rayon = f.org_unit(session, level=OrgLevel.RAYON, parent=oblast, oblast_id=oblast.id)
    return f.org_unit(session, level=OrgLevel.HROMADA, parent=rayon, oblast_id=oblast.id)


def _school(session: Session, hromada: OrgUnit, name: str, mark: str | None, settlement: str) -> OrgUnit:
    return f.org_unit(
        session,
        level=OrgLevel.SCHOOL,
        parent=hromada,
        oblast_id=hromada.oblast_id,
        name=name,
        edebo_mark=mark,
        managing_body_name=BODY,
        settlement=settlement,
    )


@pytest.fixture(scope="module")
def queued(dashboard_world: DashboardWorld) -> Queued:
    with unit_of_work() as session:
        national = session.scalars(select(OrgUnit).where(OrgUnit.level == OrgLevel.NATIONAL)).first()
        assert national is not None
        hromada = _hromada(session, national, "Область філій")
        hubs = [
            _school(session, hromada, name, "hub", "смт Петрівка")
            for name in ("Петрівський ліцей Великобуялицької сільської ради",
                         "Петрівська гімназія Великобуялицької сільської ради")
        ]  # fmt: skip
        branch = _school(
            session,
            hromada,
            "Миколаївська філія Петрівського закладу освіти Великобуялицької сільської ради",
            "branch",
            "с. Миколаївка",
        )
        far = _hromada(session, national, "Інша область філій")
        for name in ("Знам'янський ліцей", "Знам'янська гімназія"):
            _school(session, far, name, "hub", "с. Знам'янка")
        far_branch = _school(
            session, far, "Степанівська філія Знам'янського закладу", "branch", "с. Степанівка"
        )
        link_branches(session=session)
        for unit in (branch, far_branch):
            assert session.get_one(BranchLink, unit.id).outcome == BranchLinkOutcome.QUEUED
        admin = f.person(session, f.account(session, hromada), role=PersonRole.HROMADA_ADMIN)
        return Queued(
            branch_id=branch.id,
            hub_ids=(hubs[0].id, hubs[1].id),
            far_branch=far_branch.name,
            hromada_admin=admin.id,
        )


def test_an_anonymous_visitor_is_sent_to_sign_in(dashboard_world: DashboardWorld) -> None:
    at = _app(page=PAGE)
    assert at.title[0].value == "Вхід до АІКОМ"
    assert "Увійдіть до системи з КЕП, щоб відкрити сторінку «Філії»" in _texts(at)


def test_the_hromada_admin_confirms_a_ranked_candidate(
    dashboard_world: DashboardWorld, queued: Queued
) -> None:
    at = _app(queued.hromada_admin, PAGE)
    assert at.title[0].value == "Філії" and not at.error
    shown = _texts(at)
    assert "Миколаївська філія Петрівського закладу освіти" in shown
    assert "Петрівський ліцей" in shown and "Петрівська гімназія" in shown
    assert "той самий орган управління" in shown
    assert queued.far_branch not in shown  # another oblast: not in this admin's scope

    hub_id = queued.hub_ids[1]
    at.button(key=f"link-{queued.branch_id}-{hub_id}").click().run()
    assert not at.exception
    assert "Філію прив’язано до опорного закладу «Петрівська гімназія" in _texts(at)
    assert "Немає філій, що чекають вибору опорного закладу" in _texts(at)
    with unit_of_work() as session:
        branch = session.get_one(OrgUnit, queued.branch_id)
        assert branch.level == OrgLevel.BRANCH and branch.parent_id == hub_id
        assert session.get_one(BranchLink, branch.id).outcome == BranchLinkOutcome.CONFIRMED


def test_an_institute_admin_sees_the_whole_country(dashboard_world: DashboardWorld, queued: Queued) -> None:
    at = _app(dashboard_world.persons["ioa-admin-1"].person_id, PAGE)
    assert at.title[0].value == "Філії" and not at.error
    assert queued.far_branch in _texts(at)
    assert len([b for b in at.button if str(b.key).startswith("link-")]) >= 2  # the far branch's candidates


def test_an_admin_with_nothing_queued_is_told_so(dashboard_world: DashboardWorld, queued: Queued) -> None:
    at = _app(dashboard_world.persons["hromada-admin-1"].person_id, PAGE)
    assert "Немає філій, що чекають вибору опорного закладу у вашій зоні відповідальності" in _texts(at)
    assert [b.key for b in at.button] == ["signout"]


def test_a_director_may_not_open_it(dashboard_world: DashboardWorld, queued: Queued) -> None:
    at = _app(dashboard_world.persons["director"].person_id, PAGE)
    assert "«Філії» — для адміністраторів ОУО та ІОА" in _texts(at)
    assert "Миколаївська" not in _texts(at) and queued.far_branch not in _texts(at)
    assert [b.key for b in at.button] == ["signout"]
