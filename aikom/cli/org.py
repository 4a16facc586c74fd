"""`aikom org …`: look at the org tree (units, parent chains, counts)."""

from __future__ import annotations

from typing import Any

import typer

from aikom.cli.output import emit, fail
from aikom.core.errors import DomainError
from aikom.db import unit_of_work

app = typer.Typer(help="Організаційна структура", no_args_is_help=True)

LEVEL_UK = {
    "national": "національний рівень",
    "oblast": "область",
    "rayon": "район",
    "hromada": "громада",
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
