"""`aikom import …`: the national registers (КАТОТТГ codifier, ЄДЕБО schools)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from aikom.cli.output import emit, fail
from aikom.core.errors import DomainError
from aikom.db import unit_of_work
from aikom.imports.report import ImportReport, Progress
from aikom.settings import get_settings

app = typer.Typer(help="Імпорт державних реєстрів", no_args_is_help=True)
JsonFlag = Annotated[bool, typer.Option("--json", help="Звіт у JSON")]


@contextmanager
def progress_bar() -> Iterator[Progress]:
    """A rich progress bar on stderr (only on a terminal: logs and JSON stay clean)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    console = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bar.add_task(stage, total=total)
            bar.update(tasks[stage], completed=done, total=total)

        yield update


def _finish(report: ImportReport, json_output: bool) -> None:
    emit(report.to_json(), json_output, report.summary_uk())


@app.command("katottg", help="Імпортувати з кодифікатора КАТОТТГ області, райони й громади")
def katottg(
    file: Annotated[Path, typer.Argument(help="CSV кодифікатора КАТОТТГ (роздільник «;»)")],
    json_output: JsonFlag = False,
) -> None:
    """Import the national root, oblasts, rayons and hromadas from the КАТОТТГ codifier."""
    from aikom.imports.katottg import import_katottg

    try:
        with progress_bar() as progress, unit_of_work() as session:
            report = import_katottg(session=session, path=file, progress=progress)
    except DomainError as exc:
        fail(exc.message_uk, exc.code, json_output)
    _finish(report, json_output)


@app.command("schools", help="Імпортувати заклади освіти з файлу ЄДЕБО (реєстр або вивантаження)")
def schools(
    file: Annotated[
        Path, typer.Argument(help="CSV ЄДЕБО: реєстр (university_name, edrpou, …) або вивантаження")
    ],
    json_output: JsonFlag = False,
    codifier: Annotated[
        Path | None, typer.Option("--katottg", help="Кодифікатор КАТОТТГ (типово — зі спільної теки даних)")
    ] = None,
    comparison: Annotated[
        Path | None,
        typer.Option(
            "--koatuu-map", help="Таблиця відповідності КОАТУУ → КАТОТТГ (типово — зі спільної теки даних)"
        ),
    ] = None,
) -> None:
    """Import schools (and branches) from an ЄДЕБО file, placing each under its hromada."""
    from aikom.imports import register_paths
    from aikom.imports.schools import import_schools
    from aikom.services.branch_linking import link_branches

    paths = register_paths(get_settings())
    try:
        with progress_bar() as progress, unit_of_work() as session:
            report = import_schools(
                session=session,
                path=file,
                codifier_path=codifier or paths["codifier"],
                comparison_path=comparison or paths["comparison"],
                progress=progress,
            )
            # Branches ЄДЕБО marks without naming their hub are linked (or queued) right away.
            branches = link_branches(session=session)
    except DomainError as exc:
        fail(exc.message_uk, exc.code, json_output)
    emit(
        {**report.to_json(), "branch_links": branches.to_json()},
        json_output,
        f"{report.summary_uk()}\n{branches.summary_uk()}",
    )


@app.command("ouo-contacts", help="Офіційні адреси ел. пошти ОУО: CSV з кодом КАТОТТГ, назвою й адресою")
def ouo_contacts(
    file: Annotated[
        Path, typer.Argument(help="CSV: katottg, name, email (або КАТОТТГ, Назва, Електронна пошта)")
    ],
    json_output: JsonFlag = False,
) -> None:
    """Set the official email of the oblasts, rayons and hromadas a file names (their base keys go there)."""
    from aikom.imports.contacts import import_ouo_contacts

    try:
        with unit_of_work() as session:
            report = import_ouo_contacts(session=session, path=file)
    except DomainError as exc:
        fail(exc.message_uk, exc.code, json_output)
    _finish(report, json_output)
