"""The directory: search by every code and by name, what each role sees of a unit, and placing a school
that the import could not place (who may, where to, what the audit keeps)."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from aikom.core.errors import DomainError
from aikom.models import (
    AccessKey,
    AuditEntry,
    KeyKind,
    KeyState,
    OrgLevel,
    OrgUnit,
    Person,
    PersonRole,
    PersonState,
    Process,
    ProcessState,
)
from aikom.services import directory as d
from tests import factories as f

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def katottg() -> str:
    """A fresh КАТОТТГ-shaped code."""
    return "UA99" + "".join(random.choices("0123456789", k=15))  # no real code starts so


@dataclass
class World:
    """Two oblasts; in the first, two rayons; a school with a branch, staff, keys and a process; a school
    the import left at the rayon, waiting for placement; and one person of each role."""

    tag: str
    units: dict[str, OrgUnit]
    people: dict[str, Person]
    rnokpp: str
    key_public_ids: list[str]
    process_id: int


@pytest.fixture
def world(session: Session) -> World:
    tag = uuid.uuid4().hex[:8]
    c = f.cascade(session, with_edrpou=True)
    national, oblast, rayon, hromada, school = (
        c[k] for k in ("national", "oblast", "rayon", "hromada", "school")
    )
    for unit in (oblast, rayon, hromada):
        unit.katottg = katottg()
    hromada.name = f"Бучанська громада {tag}"
    school.name = f"Ліцей № 7 імені Кам’яренка {tag}"
    school.edebo_id = str(random.randrange(100_000, 999_999))
    school.official_email = f"lyceum-{tag}@example.org"
    oblast.oblast_id = oblast.id
    rayon2 = f.org_unit(session, level=OrgLevel.RAYON, parent=oblast, oblast_id=oblast.id, katottg=katottg())
    hromada2 = f.org_unit(
        session, level=OrgLevel.HROMADA, parent=rayon2, oblast_id=oblast.id, name=f"Ірпінська громада {tag}"
    )
    oblast2 = f.org_unit(session, level=OrgLevel.OBLAST, parent=national, name=f"Далека область {tag}")
    rayon3 = f.org_unit(session, level=OrgLevel.RAYON, parent=oblast2, oblast_id=oblast2.id)
    hromada3 = f.org_unit(session, level=OrgLevel.HROMADA, parent=rayon3, oblast_id=oblast2.id)
    far_school = f.org_unit(
        session,
        level=OrgLevel.SCHOOL,
        parent=hromada3,
        oblast_id=oblast2.id,
        managing_body_id=hromada3.id,
        name=f"Гімназія далека {tag}",
        edrpou=f.edrpou(),
        official_email=f"far-{tag}@example.org",
    )
    branch = f.org_unit(
        session,
        level=OrgLevel.BRANCH,
        parent=school,
        oblast_id=oblast.id,
        managing_body_id=hromada.id,
        name=f"Філія ліцею {tag}",
    )
    unplaced = f.org_unit(
        session,
        level=OrgLevel.SCHOOL,
        parent=rayon,
        oblast_id=oblast.id,
        managing_body_id=rayon.id,
        name=f"Гімназія без громади {tag}",
        edrpou=f.edrpou(),
        needs_placement=True,
        placement_note="Громаду за КОАТУУ не визначено",
    )
    unplaced_branch = f.org_unit(
        session,
        level=OrgLevel.BRANCH,
        parent=unplaced,
        oblast_id=oblast.id,
        managing_body_id=rayon.id,
        name=f"Філія гімназії без громади {tag}",
    )
    people: dict[str, Person] = {}
    for key, unit, role in (
        ("institute_admin", national, PersonRole.INSTITUTE_ADMIN),
        ("support", national, PersonRole.SUPPORT_AGENT),
        ("manager", national, PersonRole.MANAGER),
        ("oblast_admin", oblast, PersonRole.OBLAST_ADMIN),
        ("rayon_admin", rayon, PersonRole.RAYON_ADMIN),
        ("hromada_admin", hromada, PersonRole.HROMADA_ADMIN),
        ("hromada2_admin", hromada2, PersonRole.HROMADA_ADMIN),
        ("far_admin", oblast2, PersonRole.OBLAST_ADMIN),
        ("ois_operator", far_school, PersonRole.OIS_OPERATOR),
    ):
        account = _account_of(session, unit)
        people[key] = f.person(session, account, role=role, name=f"{key} {tag}")
    school_account = _account_of(session, school)
    rnokpp = f.rnokpp()
    people["director"] = f.person(
        session, school_account, role=PersonRole.DIRECTOR, name=f"Коваленко Оксана {tag}", rnokpp=rnokpp
    )
    people["director"].kep_not_after = NOW + timedelta(days=10)
    people["deputy"] = f.person(
        session, school_account, role=PersonRole.DEPUTY, name=f"Руденко Андрій {tag}", rnokpp=f.rnokpp()
    )
    people["deputy"].kep_not_after = NOW - timedelta(days=1)
    people["former"] = f.person(
        session, school_account, role=PersonRole.DIRECTOR, state=PersonState.INACTIVE, name=f"Колишній {tag}"
    )
    people["former"].kep_not_after = NOW - timedelta(days=100)
    people["far_director"] = f.person(session, _account_of(session, far_school), role=PersonRole.DIRECTOR)
    public_ids = []
    for kind, state in (
        (KeyKind.BASE, KeyState.ACTIVE),
        (KeyKind.API, KeyState.ACTIVE),
        (KeyKind.API, KeyState.DEACTIVATED),
    ):
        public_id = uuid.uuid4().hex.upper()[:26]
        public_ids.append(public_id)
        session.add(
            AccessKey(
                account_id=school_account.id,
                kind=kind,
                public_id=public_id,
                secret_hash=bytes.fromhex("ab" * 32),
                pepper_id="pepper-test",
                state=state,
            )
        )
    process = Process(
        type="demo-approval",
        title=f"Заміна керівника закладу освіти: {school.name}",
        state=ProcessState.WAITING,
        subject_org_unit_id=school.id,
    )
    done = Process(
        type="demo-approval", title="Завершений", state=ProcessState.COMPLETED, subject_org_unit_id=school.id
    )
    session.add_all([process, done])
    session.flush()
    units = {
        "national": national,
        "oblast": oblast,
        "rayon": rayon,
        "hromada": hromada,
        "school": school,
        "branch": branch,
        "rayon2": rayon2,
        "hromada2": hromada2,
        "oblast2": oblast2,
        "hromada3": hromada3,
        "far_school": far_school,
        "unplaced": unplaced,
        "unplaced_branch": unplaced_branch,
    }
    return World(tag, units, people, rnokpp, public_ids, process.id)


def _account_of(session: Session, unit: OrgUnit):  # type: ignore[no-untyped-def]
    from aikom.models import Account

    existing = session.scalars(select(Account).where(Account.org_unit_id == unit.id)).one_or_none()
    return existing or f.account(session, unit)


def _search(session: Session, world: World, who: str, query: str, **filters: object) -> d.SearchResult:
    return d.search_units(session=session, viewer=world.people[who], query=query, **filters)  # type: ignore[arg-type]


def _ids(result: d.SearchResult) -> list[int]:
    return [row.id for row in result.rows]


# --- search -------------------------------------------------------------------------------------------


def test_search_by_each_code(session: Session, world: World) -> None:
    school, hromada = world.units["school"], world.units["hromada"]
    assert school.edrpou and school.edebo_id and hromada.katottg

    by_edrpou = _search(session, world, "institute_admin", school.edrpou)
    assert by_edrpou.rows[0].id == school.id and by_edrpou.rows[0].matched_by == "edrpou"
    by_katottg = _search(session, world, "institute_admin", hromada.katottg.lower())
    assert _ids(by_katottg) == [hromada.id] and by_katottg.rows[0].matched_by_uk == "КАТОТТГ"
    by_edebo = _search(session, world, "institute_admin", "0" + school.edebo_id)
    assert by_edebo.rows[0].id == school.id and by_edebo.rows[0].matched_by == "edebo"
    by_prefix = _search(session, world, "institute_admin", f"id:{school.id}")
    assert _ids(by_prefix) == [school.id]
    assert _search(session, world, "institute_admin", "id:99999999999").rows == []


def test_an_exact_code_ranks_before_a_name_that_contains_it(session: Session, world: World) -> None:
    school = world.units["school"]
    assert school.edrpou
    namesake = f.org_unit(
        session, level=OrgLevel.SCHOOL, parent=world.units["hromada"], name=f"Школа {school.edrpou}"
    )
    result = _search(session, world, "institute_admin", school.edrpou)
    assert _ids(result)[:2] == [school.id, namesake.id]
    assert [r.matched_by for r in result.rows[:2]] == ["edrpou", "name"]


def test_search_by_words_of_a_name_in_any_case_and_apostrophe(session: Session, world: World) -> None:
    school = world.units["school"]
    result = _search(session, world, "institute_admin", f"КАМ'ЯРЕНКА   ліцей {world.tag}")
    assert _ids(result) == [school.id]
    row = result.rows[0]
    assert row.parent_name == world.units["hromada"].name and row.oblast_name == world.units["oblast"].name
    assert row.visibility == d.Visibility.FULL


def test_filters_narrow_the_results_and_a_limit_says_more_matched(session: Session, world: World) -> None:
    tag = world.tag
    schools = _search(session, world, "institute_admin", tag, level=OrgLevel.SCHOOL)
    assert world.units["hromada"].id not in _ids(schools)
    assert {world.units["school"].id, world.units["unplaced"].id, world.units["far_school"].id} <= set(
        _ids(schools)
    )
    in_oblast2 = _search(session, world, "institute_admin", tag, oblast_id=world.units["oblast2"].id)
    assert set(_ids(in_oblast2)) == {world.units["oblast2"].id, world.units["far_school"].id}
    waiting = _search(session, world, "institute_admin", tag, needs_placement=True)
    assert _ids(waiting) == [world.units["unplaced"].id]
    only_filter = _search(
        session, world, "institute_admin", "", needs_placement=True, oblast_id=world.units["oblast"].id
    )
    assert world.units["unplaced"].id in _ids(only_filter)
    one = _search(session, world, "institute_admin", tag, limit=1)
    assert len(one.rows) == 1 and one.truncated


def test_a_search_without_a_name_code_or_filter_is_refused(session: Session, world: World) -> None:
    with pytest.raises(d.SearchQueryTooShort) as refused:
        _search(session, world, "institute_admin", " я ")
    assert "щонайменше 2 символи" in refused.value.message_uk
    with pytest.raises(d.SearchLimitOutOfRange):
        _search(session, world, "institute_admin", world.tag, limit=500)


def test_an_ouo_admin_finds_units_elsewhere_but_only_by_name_and_codes(
    session: Session, world: World
) -> None:
    result = _search(session, world, "oblast_admin", world.tag)
    seen = {row.id: row for row in result.rows}
    assert seen[world.units["school"].id].visibility == d.Visibility.FULL
    far = seen[world.units["far_school"].id]
    assert far.visibility == d.Visibility.LIMITED and far.edrpou == world.units["far_school"].edrpou


def test_a_director_finds_only_their_school_and_its_branches(session: Session, world: World) -> None:
    result = _search(session, world, "director", world.tag)
    assert set(_ids(result)) == {world.units["school"].id, world.units["branch"].id}
    far_edrpou = world.units["far_school"].edrpou
    assert far_edrpou
    assert _search(session, world, "deputy", far_edrpou).rows == []


def test_an_ois_operator_has_no_directory(session: Session, world: World) -> None:
    with pytest.raises(d.DirectoryClosedToRole) as refused:
        _search(session, world, "ois_operator", world.tag)
    assert "Оператор ОІС" in refused.value.message_uk
    with pytest.raises(d.DirectoryClosedToRole):
        d.unit_card(session=session, viewer=world.people["ois_operator"], unit_id=world.units["school"].id)


# --- the card -----------------------------------------------------------------------------------------


def _card(session: Session, world: World, who: str, unit: str) -> d.UnitCard:
    return d.unit_card(session=session, viewer=world.people[who], unit_id=world.units[unit].id, now=NOW)


def test_the_full_card_of_a_school_without_any_secret(session: Session, world: World) -> None:
    card = _card(session, world, "institute_admin", "school")
    assert card.visibility == d.Visibility.FULL
    assert [p.id for p in card.parents] == [
        world.units[k].id for k in ("national", "oblast", "rayon", "hromada")
    ]
    assert card.managing_body and card.managing_body.id == world.units["hromada"].id
    assert card.account and card.account.state_uk == "активний"
    people = {p.full_name: p for p in card.persons}
    director = people[f"Коваленко Оксана {world.tag}"]
    assert director.role_uk == "Керівник закладу освіти" and director.state_uk == "активна"
    assert director.email == world.people["director"].email
    assert people[f"Колишній {world.tag}"].state == PersonState.INACTIVE
    assert sorted((k.kind, k.state) for k in card.keys) == sorted(
        [(KeyKind.BASE, KeyState.ACTIVE), (KeyKind.API, KeyState.ACTIVE), (KeyKind.API, KeyState.DEACTIVATED)]
    )
    assert [b.id for b in card.branches] == [world.units["branch"].id]
    assert [p.id for p in card.open_processes] == [world.process_id] and card.open_processes_total == 1
    assert card.children == {"branch": 1}
    # КЕП: the deputy's has expired, the director's ends in 10 days; a former director is not listed.
    assert [(w.full_name, w.expired, w.days_left) for w in card.kep_expiring] == [
        (f"Руденко Андрій {world.tag}", True, 0),
        (f"Коваленко Оксана {world.tag}", False, 10),
    ]
    everything = json.dumps(asdict(card), default=str, ensure_ascii=False)
    assert world.rnokpp not in everything
    assert "ab" * 32 not in everything and "pepper-test" not in everything
    for public_id in world.key_public_ids:
        assert public_id not in everything  # only its first characters
        assert f"{public_id[: d.KEY_PREFIX_CHARS]}…" in everything


def test_an_ouo_admin_sees_a_unit_elsewhere_by_name_codes_and_status_only(
    session: Session, world: World
) -> None:
    card = _card(session, world, "oblast_admin", "far_school")
    assert card.visibility == d.Visibility.LIMITED
    assert card.name == world.units["far_school"].name and card.edrpou == world.units["far_school"].edrpou
    assert card.status_uk == "діє"
    assert card.account is None and card.persons == [] and card.keys == [] and card.open_processes == []
    assert card.official_email is None and not card.may_move
    everything = json.dumps(asdict(card), default=str, ensure_ascii=False)
    assert world.people["far_director"].email not in everything
    assert world.people["far_director"].full_name not in everything


def test_an_ouo_admin_sees_its_own_territory_in_full(session: Session, world: World) -> None:
    card = _card(session, world, "hromada_admin", "school")
    assert card.visibility == d.Visibility.FULL and card.persons and card.keys


def test_a_director_sees_their_school_and_branch_and_nothing_else(session: Session, world: World) -> None:
    assert _card(session, world, "director", "school").visibility == d.Visibility.FULL
    assert _card(session, world, "deputy", "branch").visibility == d.Visibility.FULL
    with pytest.raises(d.UnitNotInScope) as refused:
        _card(session, world, "director", "far_school")
    assert "лише свій заклад і його філії" in refused.value.message_uk
    with pytest.raises(d.UnitNotInScope):
        _card(session, world, "deputy", "hromada")


def test_an_unknown_unit_is_named_in_the_refusal(session: Session, world: World) -> None:
    with pytest.raises(DomainError) as refused:
        d.unit_card(session=session, viewer=world.people["manager"], unit_id=2_000_000_000)
    assert "2000000000" in refused.value.message_uk


# --- placing a school ---------------------------------------------------------------------------------


def _move(
    session: Session, world: World, who: str, unit: str, target: str, note: str | None = None
) -> d.MoveResult:
    return d.move_unit(
        session=session,
        actor=world.people[who],
        unit_id=world.units[unit].id,
        new_parent_id=world.units[target].id,
        note=note,
    )


def test_the_hromada_admin_places_a_waiting_school_and_the_audit_keeps_before_and_after(
    session: Session, world: World
) -> None:
    unplaced, hromada, rayon = world.units["unplaced"], world.units["hromada"], world.units["rayon"]
    card = _card(session, world, "hromada_admin", "unplaced")
    assert card.visibility == d.Visibility.LIMITED and card.may_move
    assert card.placement_note == "Громаду за КОАТУУ не визначено"
    targets = d.placement_targets(session=session, actor=world.people["hromada_admin"], unit_id=unplaced.id)
    assert [t.id for t in targets] == [hromada.id]

    result = _move(session, world, "hromada_admin", "unplaced", "hromada", note="  Уточнено   за листом ОУО ")
    session.refresh(unplaced)
    assert unplaced.parent_id == hromada.id and unplaced.managing_body_id == hromada.id
    assert unplaced.oblast_id == world.units["oblast"].id
    assert not unplaced.needs_placement and unplaced.placement_note is None
    assert unplaced.lineage[-2:] == [hromada.id, unplaced.id]
    branch = world.units["unplaced_branch"]
    session.refresh(branch)
    assert hromada.id in branch.lineage and branch.managing_body_id == hromada.id
    assert result.branch_ids == [branch.id]
    assert result.message_uk == f"Заклад «{unplaced.name}» розміщено під «{hromada.name}»."

    entry = session.get_one(AuditEntry, result.audit_entry_id)
    assert entry.action == "org_unit.placed" and entry.object_id == str(unplaced.id)
    assert entry.actor_person_id == world.people["hromada_admin"].id
    assert entry.details["before"]["parent_id"] == rayon.id
    assert entry.details["before"]["managing_body_id"] == rayon.id
    assert entry.details["after"]["parent_id"] == hromada.id
    assert entry.details["note"] == "Уточнено за листом ОУО"
    assert entry.details["placement_note"] == "Громаду за КОАТУУ не визначено"
    # Placed now: the hromada admin sees it in full, and nobody moves it again here.
    assert _card(session, world, "hromada_admin", "unplaced").visibility == d.Visibility.FULL
    with pytest.raises(d.SchoolAlreadyPlaced):
        _move(session, world, "institute_admin", "unplaced", "hromada2")


def _unchanged(session: Session, world: World) -> None:
    unplaced = world.units["unplaced"]
    session.refresh(unplaced)
    assert unplaced.needs_placement and unplaced.parent_id == world.units["rayon"].id


@pytest.mark.parametrize(
    ("who", "target", "refusal", "words"),
    [
        ("hromada2_admin", "hromada", d.HromadaOutsideTerritory, "не належить до території"),
        ("far_admin", "hromada", d.HromadaOutsideTerritory, "не належить до території"),
        ("oblast_admin", "hromada2", d.HromadaOutsideKnownPlacement, "лише технічний адміністратор ІОА"),
        ("director", "hromada", d.MoveRoleNotAllowed, "ваша роль — «Керівник закладу освіти»"),
        ("support", "hromada", d.MoveRoleNotAllowed, "технічний адміністратор ІОА"),
        ("manager", "hromada", d.MoveRoleNotAllowed, "Керівник / аналітик"),
        ("institute_admin", "rayon2", d.TargetNotHromada, "лише під громадою"),
    ],
)
def test_a_move_is_refused_for_a_wrong_territory_role_or_target(
    session: Session, world: World, who: str, target: str, refusal: type[DomainError], words: str
) -> None:
    with pytest.raises(refusal) as refused:
        _move(session, world, who, "unplaced", target)
    assert words in refused.value.message_uk
    _unchanged(session, world)
    placed = select(AuditEntry).where(
        AuditEntry.action == "org_unit.placed", AuditEntry.object_id == str(world.units["unplaced"].id)
    )
    assert session.scalars(placed).first() is None


def test_only_schools_waiting_for_placement_are_moved(session: Session, world: World) -> None:
    with pytest.raises(d.SchoolAlreadyPlaced) as refused:
        _move(session, world, "institute_admin", "school", "hromada2")
    assert "«потребує розміщення»" in refused.value.message_uk
    with pytest.raises(d.OnlySchoolsArePlaced):
        _move(session, world, "institute_admin", "hromada2", "hromada")
    with pytest.raises(d.PlacementNoteTooLong):
        _move(session, world, "institute_admin", "unplaced", "hromada", note="я" * 501)
    _unchanged(session, world)


def test_an_institute_admin_places_a_school_anywhere(session: Session, world: World) -> None:
    _move(session, world, "institute_admin", "unplaced", "hromada3")
    unplaced = world.units["unplaced"]
    session.refresh(unplaced)
    assert unplaced.parent_id == world.units["hromada3"].id
    assert unplaced.oblast_id == world.units["oblast2"].id


def test_the_register_may_name_an_oblast_body_as_managing(session: Session, world: World) -> None:
    unplaced = world.units["unplaced"]
    unplaced.managing_body_name = "Департамент освіти і науки Київської обласної державної адміністрації"
    session.flush()
    result = _move(session, world, "rayon_admin", "unplaced", "hromada")
    session.refresh(unplaced)
    assert unplaced.parent_id == world.units["hromada"].id
    assert unplaced.managing_body_id == world.units["oblast"].id
    assert "орган управління" in result.message_uk


def test_an_inactive_admin_cannot_move(session: Session, world: World) -> None:
    world.people["hromada_admin"].state = PersonState.INACTIVE
    session.flush()
    with pytest.raises(d.ViewerNotActive):
        _move(session, world, "hromada_admin", "unplaced", "hromada")
    assert not _card(session, world, "institute_admin", "unplaced").kep_expiring
