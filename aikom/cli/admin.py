"""`aikom admin …`: setting up a production system (the first national staff, without demo data)."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from aikom.cli.output import emit, fail
from aikom.core.errors import DomainError, ValidationFailed

app = typer.Typer(help="Адміністрування: початкове налаштування системи", no_args_is_help=True)


def _read_json(path: Path) -> object:
    if not path.is_file():
        raise ValidationFailed("file", f"Файл «{path}» не знайдено.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ValidationFailed("file", f"Файл «{path}»: потрібен текст у кодуванні UTF-8.") from None
    except json.JSONDecodeError as error:
        raise ValidationFailed(
            "file", f"Файл «{path}» не є коректним JSON (рядок {error.lineno}, позиція {error.colno})."
        ) from None


@app.command(
    "bootstrap",
    help="Створити перших адміністраторів ІОА, службу підтримки й аналітиків (картки чекають першого "
    "входу з КЕП); повторний запуск нікого не створює вдруге",
)
def bootstrap(
    file: Path = typer.Argument(
        ...,
        help="Файл JSON: об'єкт institute з ЄДРПОУ інституту (edrpou) і список осіб persons, у кожної — "
        "ПІБ (full_name), РНОКПП (rnokpp), пошта (email), роль (role: institute_admin, support_agent або "
        "manager) і, за бажання, посада (position)",
    ),
    json_output: bool = typer.Option(False, "--json", help="Звіт у JSON"),
) -> None:
    """Create the first institute admins, support agents and managers from a file (idempotent)."""
    from aikom.db import unit_of_work
    from aikom.services.bootstrap import bootstrap_staff

    try:
        data = _read_json(file)
        with unit_of_work() as session:
            report = bootstrap_staff(session=session, data=data)
    except DomainError as error:
        fail(error.message_uk, error.code, json_output)
        return
    lines = [
        f"{report.institute} (ЄДРПОУ {report.institute_edrpou}): створено осіб — {len(report.created)}, "
        f"уже були — {len(report.existing)}."
    ]
    lines += [
        f"  + №{p.person_id} {p.full_name} — {p.role_title}, {p.email} (чекає першого входу з КЕП)"
        for p in report.created
    ]
    lines += [f"  = №{p.person_id} {p.full_name} — {p.role_title} (уже є)" for p in report.existing]
    emit(report.model_dump(mode="json"), json_output, "\n".join(lines))
