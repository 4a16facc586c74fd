"""`aikom org …`: look at the org tree (units, parent chains, counts)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import typer

from aikom.cli.output import emit, fail
from aikom.core.errors import DomainError
from aikom.db import unit_of_work

if TYPE_CHECKING:
    from aikom.models import OrgLevel
    from aikom.services.directory import UnitCard

app = typer.Typer(help="Організаційна структура", no_args_is_help=True)

LEVEL_UK = {
    "national": "національний рівень",
    "oblast": "область",
    "rayon": "район",
    "hromada": "громада",
    "district": "район міста",
    "school": "заклад",
    "branch": "філія",
}
STATUS_UK = {
    "active": "діє",
    "liquidated": "ліквідовано",
    "reorganized": "реорганізовано",
    "suspended": "призупинено",
}


def _counts_uk(counts: dict[str, int]) -> str:
    return ", ".join(f"{LEVEL_UK.get(k, k)} — {v}" for k, v in counts.items()) or "немає"


@app.command("show", help="Показати одиницю, її підпорядкування і кількість одиниць нижче")
def show(
    code: str = typer.Argument(..., help="ЄДРПОУ, КАТОТТГ, код ЄДЕБО або id (можна з префіксом id:, edebo:)"),
    json_output: bool = typer.Option(False, "--json", help="Відповідь у JSON"),
) -> None:
    """Show a unit, its parent chain and how many units lie below it."""
    from aikom.services.org import describe_unit

    try:
        with unit_of_work() as session:
            card = describe_unit(session=session, code=code)
    except DomainError as exc:
        fail(exc.message_uk, exc.code, json_output)
    unit: dict[str, Any] = card.unit
    lines = [
        f"{unit['name']} ({LEVEL_UK.get(str(unit['level']), unit['level'])}, id {unit['id']}, "
        f"{STATUS_UK.get(str(unit['status']), unit['status'])})",
    ]
    for label, key in (("ЄДРПОУ", "edrpou"), ("КАТОТТГ", "katottg"), ("Код ЄДЕБО", "edebo_id"),
                       ("Населений пункт", "settlement"), ("Ел. пошта", "official_email"),
                       ("Керівник", "director_name")):  # fmt: skip
        if unit.get(key):
            lines.append(f"{label}: {unit[key]}")
    if card.parents:
        lines.append("Підпорядкування: " + " → ".join(p.name for p in card.parents))
    if card.managing_body:
        lines.append(f"Орган управління: {card.managing_body.name}")
    if unit.get("needs_placement"):
        lines.append(f"Потребує розміщення: {unit.get('placement_note')}")
    lines.append(f"Безпосередньо підпорядковані: {_counts_uk(card.children)}")
    lines.append(f"Усього нижче: {_counts_uk(card.subtree)}")
    emit({"ok": True, **card.model_dump(mode="json")}, json_output, "\n".join(lines))


@app.command("tree", help="Кількість одиниць за рівнями, статусами й областями")
def tree(json_output: bool = typer.Option(False, "--json", help="Відповідь у JSON")) -> None:
    """Count units per level, per status and per oblast."""
    from aikom.services.org import tree_counts

    with unit_of_work() as session:
        counts = tree_counts(session=session)
    if not counts["by_level"]:
        fail(
            "Організаційних одиниць ще немає: імпортуйте КАТОТТГ і реєстр закладів", "empty_tree", json_output
        )
    lines = [f"Усього: {_counts_uk(counts['by_level'])}"]
    if counts["needs_placement"]:
        lines.append(f"Потребують розміщення: {counts['needs_placement']}")
    for oblast in counts["oblasts"]:
        waiting = (
            f"; потребують розміщення — {oblast['needs_placement']}" if oblast["needs_placement"] else ""
        )
        lines.append(f"{oblast['name']}: {_counts_uk(oblast['counts'])}{waiting}")
    emit({"ok": True, **counts}, json_output, "\n".join(lines))


# --- branches and their hub schools -------------------------------------------------------------------


@app.command("link-branches", help="Прив’язати філії ЄДЕБО до опорних закладів (автоматично або в чергу ОУО)")
def link_branches(json_output: bool = typer.Option(False, "--json", help="Відповідь у JSON")) -> None:
    """Link every branch that is not linked yet; print linked / queued / no candidate and the share."""
    from aikom.services.branch_linking import link_branches as run_linking

    with unit_of_work() as session:
        counts = run_linking(session=session)
    emit({"ok": True, **counts.to_json()}, json_output, counts.summary_uk())


@app.command("branch-queue", help="Філії, що чекають вибору опорного закладу, з кандидатами")
def branch_queue(
    actor: str = typer.Option(..., "--as", help="Особа: номер картки або email"),
    offset: int = typer.Option(0, "--offset", min=0, help="Пропустити стільки філій (сторінки)"),
    limit: int = typer.Option(50, "--limit", min=1, max=500, help="Скільки філій показати (1–500)"),
    json_output: bool = typer.Option(False, "--json", help="Відповідь у JSON"),
) -> None:
    """The queued branches in the person's scope with their ranked candidates."""
    from aikom.services import approvals
    from aikom.services.branch_linking import branch_queue as queue_page

    try:
        with unit_of_work() as session:
            person = approvals.find_person(session=session, ref=actor)
            page = queue_page(session=session, actor=person, offset=offset, limit=limit)
    except DomainError as exc:
        fail(exc.message_uk, exc.code, json_output)
        return
    lines = [f"Філій у черзі: {page.total}; без кандидата: {page.no_candidate}"]
    for row in page.rows:
        lines.append(f"№{row.branch_id} {row.name}")
        for rank, c in enumerate(row.candidates, start=1):
            lines.append(f"   {rank}. №{c.hub_id} {c.name} — {c.score:.0f} ({c.why})")
    if not page.rows:
        lines.append("Немає філій, що чекають вибору опорного закладу.")
    emit({"ok": True, **page.model_dump(mode="json")}, json_output, "\n".join(lines))


@app.command("link-branch", help="Прив’язати філію до опорного закладу (підтвердження з черги)")
def link_branch(
    branch: str = typer.Argument(..., help="Філія: id, код ЄДЕБО (edebo:…) або ЄДРПОУ"),
    hub: str = typer.Argument(..., help="Опорний заклад: id, код ЄДЕБО (edebo:…) або ЄДРПОУ"),
    actor: str = typer.Option(..., "--as", help="Особа: номер картки або email"),
    json_output: bool = typer.Option(False, "--json", help="Відповідь у JSON"),
) -> None:
    """A person links a branch to a hub school of its oblast."""
    from aikom.services import approvals
    from aikom.services.branch_linking import confirm_branch_link
    from aikom.services.org import find_unit

    try:
        with unit_of_work() as session:
            person = approvals.find_person(session=session, ref=actor)
            branch_unit = find_unit(session=session, code=branch)
            hub_unit = find_unit(session=session, code=hub)
            link = confirm_branch_link(
                session=session, actor=person, branch_id=branch_unit.id, hub_id=hub_unit.id
            )
            payload = {
                "ok": True,
                "branch_id": branch_unit.id,
                "hub_id": hub_unit.id,
                "outcome": link.outcome.value,
                "message": f"Філію «{branch_unit.name}» прив’язано до опорного закладу «{hub_unit.name}».",
            }
    except DomainError as exc:
        fail(exc.message_uk, exc.code, json_output)
        return
    emit(payload, json_output, str(payload["message"]))


# --- the directory: search, a unit's card, placing a school ------------------------------------------

AS_OPTION = typer.Option(..., "--as", help="Від імені кого: номер картки особи або email")
JSON_OPTION = typer.Option(False, "--json", help="Відповідь у JSON")


@app.command("search", help="Знайти одиниці за назвою, ЄДРПОУ, КАТОТТГ або кодом ЄДЕБО (у межах вашої зони)")
def search(
    query: str = typer.Argument(
        "", help="Слова назви або код (можна з префіксом id:, edrpou:, edebo:, katottg:)"
    ),
    level: str | None = typer.Option(
        None, "--level", help="Рівень: oblast, rayon, hromada, school, branch (або national)"
    ),
    oblast: str | None = typer.Option(None, "--oblast", help="Область: КАТОТТГ, ЄДРПОУ або номер"),
    needs_placement: bool = typer.Option(
        False, "--needs-placement", help="Лише заклади, що потребують розміщення"
    ),
    limit: int = typer.Option(50, "--limit", help="Скільки результатів показати (1–200)"),
    actor: str = AS_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """Units that match a name or a code, exact code matches first."""
    from dataclasses import asdict

    from aikom.cli.lookup import find_oblast
    from aikom.models import OrgLevel
    from aikom.services import approvals, directory

    try:
        chosen_level = _level(level)
        with unit_of_work() as session:
            viewer = approvals.find_person(session=session, ref=actor)
            result = directory.search_units(
                session=session,
                viewer=viewer,
                query=query,
                level=chosen_level,
                oblast_id=find_oblast(session, oblast).id if oblast else None,
                needs_placement=True if needs_placement else None,
                limit=limit,
            )
    except DomainError as exc:
        fail(exc.message_uk, exc.code, json_output)
        return
    lines = [f"Знайдено: {len(result.rows)}{' (є ще — уточніть запит)' if result.truncated else ''}"]
    for row in result.rows:
        codes = ", ".join(
            f"{label} {value}"
            for label, value in (("ЄДРПОУ", row.edrpou), ("КАТОТТГ", row.katottg), ("ЄДЕБО", row.edebo_id))
            if value
        )
        where = f"; {row.parent_name}" if row.parent_name and row.level != OrgLevel.OBLAST else ""
        flags = " — ПОТРЕБУЄ РОЗМІЩЕННЯ" if row.needs_placement else ""
        partial = " [лише назва й коди]" if row.visibility == directory.Visibility.LIMITED else ""
        lines.append(
            f"№{row.id} {row.name} ({row.level_uk}, {row.status_uk}{', ' + codes if codes else ''}{where})"
            f"{flags}{partial}"
        )
    emit({"ok": True, **asdict(result)}, json_output, "\n".join(lines))


def _level(value: str | None) -> OrgLevel | None:
    from aikom.core.errors import ValidationFailed
    from aikom.models import OrgLevel

    if value is None:
        return None
    try:
        return OrgLevel(value.strip().lower())
    except ValueError:
        raise ValidationFailed(
            "level", f"Рівень: «{value}» — можливо national, oblast, rayon, hromada, school або branch."
        ) from None


@app.command(
    "card", help="Картка одиниці: стан, підпорядкування, обліковий запис, особи, ключі, філії, процеси"
)
def card(
    unit: str = typer.Argument(..., help="ЄДРПОУ, КАТОТТГ, код ЄДЕБО або номер одиниці"),
    actor: str = AS_OPTION,
    json_output: bool = JSON_OPTION,
) -> None:
    """A unit's card as this person may see it."""
    from dataclasses import asdict

    from aikom.services import approvals, directory
    from aikom.services.org import find_unit

    try:
        with unit_of_work() as session:
            viewer = approvals.find_person(session=session, ref=actor)
            found = find_unit(session=session, code=unit)
            view = directory.unit_card(session=session, viewer=viewer, unit_id=found.id)
    except DomainError as exc:
        fail(exc.message_uk, exc.code, json_output)
        return
    emit({"ok": True, **asdict(view)}, json_output, _card_text(view))


def _card_text(view: UnitCard) -> str:
    from aikom.core.timefmt import format_kyiv
    from aikom.services.directory import Visibility

    lines = [f"№{view.id} {view.name} ({view.level_uk}, {view.status_uk})"]
    for label, value in (("ЄДРПОУ", view.edrpou), ("КАТОТТГ", view.katottg), ("Код ЄДЕБО", view.edebo_id),
                         ("Населений пункт", view.settlement), ("Адреса", view.address),
                         ("Ел. пошта", view.official_email)):  # fmt: skip
        if value:
            lines.append(f"{label}: {value}")
    if view.parents:
        lines.append("Підпорядкування: " + " → ".join(p.name for p in view.parents))
    if view.needs_placement:
        note = f": {view.placement_note}" if view.placement_note else ""
        lines.append(f"Потребує розміщення{note}")
        if view.may_move:
            lines.append("Ви можете розмістити заклад: aikom org move ОДИНИЦЯ ГРОМАДА --as …")
    if view.visibility == Visibility.LIMITED:
        lines.append("Одиниця поза вашою зоною: показано лише назву, коди та стан.")
        return "\n".join(lines)
    if view.managing_body:
        lines.append(f"Орган управління: {view.managing_body.name}")
    if view.children:
        lines.append("Безпосередньо підпорядковані: " + _counts_uk(view.children))
    if view.account:
        lines.append(f"Обліковий запис: {view.account.state_uk}")
    else:
        lines.append("Обліковий запис: ще не створено")
    for p in view.persons:
        lines.append(f"  Особа №{p.id} {p.full_name} — {p.role_uk}, {p.state_uk}, {p.email}")
    for k in view.keys:
        lines.append(f"  Ключ {k.kind_uk} {k.public_id_prefix} — {k.state_uk}")
    if view.branches:
        lines.append("Філії: " + "; ".join(f"№{b.id} {b.name}" for b in view.branches))
    if view.open_processes:
        lines.append(f"Відкриті процеси ({view.open_processes_total}):")
        lines += [f"  №{pr.id} {pr.title} — {pr.state_uk}" for pr in view.open_processes]
    for w in view.kep_expiring:
        when = format_kyiv(w.kep_not_after)
        state = f"сплив {when}" if w.expired else f"спливає {when} (днів: {w.days_left})"
        lines.append(f"КЕП: {w.full_name} ({w.role_uk}) — {state}")
    return "\n".join(lines)


@app.command("move", help="Розмістити заклад, що потребує розміщення, під громадою (з записом до журналу)")
def move(
    unit: str = typer.Argument(..., help="Заклад: ЄДРПОУ, код ЄДЕБО або номер"),
    hromada: str = typer.Argument(..., help="Громада: КАТОТТГ, ЄДРПОУ або номер"),
    actor: str = AS_OPTION,
    note: str | None = typer.Option(None, "--note", help="Примітка: на якій підставі (до 500 символів)"),
    json_output: bool = JSON_OPTION,
) -> None:
    """Place a school marked «потребує розміщення» under a hromada."""
    from dataclasses import asdict

    from aikom.services import approvals, directory
    from aikom.services.org import find_unit

    try:
        with unit_of_work() as session:
            mover = approvals.find_person(session=session, ref=actor)
            school = find_unit(session=session, code=unit)
            target = find_unit(session=session, code=hromada)
            result = directory.move_unit(
                session=session, actor=mover, unit_id=school.id, new_parent_id=target.id, note=note
            )
    except DomainError as exc:
        fail(exc.message_uk, exc.code, json_output)
        return
    emit({"ok": True, **asdict(result)}, json_output, result.message_uk)
