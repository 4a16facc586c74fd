"""`aikom db …`: the domain database."""

from __future__ import annotations

import typer

from aikom.cli.output import emit
from aikom.settings import get_settings

app = typer.Typer(help="База даних", no_args_is_help=True)


@app.command("upgrade", help="Створити базу (за потреби) і застосувати міграції")
def upgrade(json_output: bool = typer.Option(False, "--json", help="Звіт у JSON")) -> None:
    """Create the database if needed and apply every Alembic migration."""
    from aikom.migrate import upgrade_database

    report = upgrade_database(get_settings())
    emit(report, json_output, f"База даних {report['database']}: схема {report['revision']}")


@app.command("url", help="Адреса бази даних (запускає вбудований PostgreSQL за потреби)")
def url() -> None:
    """Print the domain database URL (starts the embedded server when needed)."""
    from aikom.db import database_url

    typer.echo(database_url())


@app.command("stop", help="Зупинити вбудований PostgreSQL")
def stop() -> None:
    """Stop the embedded PostgreSQL server."""
    from aikom.db import stop_embedded_postgres

    stopped = stop_embedded_postgres(get_settings())
    typer.echo("Вбудований PostgreSQL зупинено" if stopped else "Вбудований PostgreSQL не працював")
