"""`aikom up` and `aikom status`: the whole local system."""

from __future__ import annotations

import typer

from aikom.cli.output import emit
from aikom.settings import get_settings


def register(app: typer.Typer) -> None:
    """Add the system commands to the main app."""

    @app.command("up", help="Запустити систему: база, реєстри, демо-дані й сервіси (Ctrl-C зупиняє)")
    def up(
        json_output: bool = typer.Option(False, "--json", help="Звіт у JSON"),
        detach: bool = typer.Option(False, "--detach", help="Лише підготувати базу"),
    ) -> None:
        """Start the system: database, migrations, registers, demo data and services (Ctrl-C stops it)."""
        from aikom.stack import Stack, check_ports_free, prepare, run_until_interrupted, start_services

        settings = get_settings()
        if not detach:
            check_ports_free(settings)  # before the long preparation, not after it
        typer.echo("Готую базу даних (перший запуск імпортує реєстри, до хвилини)…", err=True)
        report = prepare(settings)
        counts = report["org_units"]
        lines = [
            f"База даних: {report['database']}",
            "Організаційні одиниці: " + ", ".join(f"{level} — {n}" for level, n in counts.items()),
        ]
        if detach:
            emit(report, json_output, "\n".join(lines))
            return
        stack = Stack(settings)
        try:
            start_services(
                settings, stack, progress=lambda label: typer.echo(f"Запускаю: {label}…", err=True)
            )
        except BaseException:
            stack.stop_all()
            raise
        report["components"] = {c.name: c.url for c in stack.components}
        lines.append("")
        lines += [f"{c.name}: {c.url}" for c in stack.components if c.url]
        if report.get("demo_persons"):
            lines.append("")
            lines.append("Демонстраційні особи (вхід на сторінці «Вхід» панелі):")
            lines += [
                f"  № {p['person_id']} {p['name']} — {p['role']}, {p['org']}" for p in report["demo_persons"]
            ]
        lines.append("")
        lines.append("АІКОМ Back Office працює. Ctrl-C зупиняє все в належному порядку.")
        emit(report, json_output, "\n".join(lines))
        run_until_interrupted(stack)
        typer.echo("Зупинено.", err=True)

    @app.command("status", help="Стан кожного компонента системи")
    def status(json_output: bool = typer.Option(False, "--json", help="Звіт у JSON")) -> None:
        """Report each component of the system."""
        from aikom.stack import status as stack_status

        report = stack_status(get_settings())
        names = {
            "postgresql": "PostgreSQL",
            "prefect_server": "Сервер процесів Prefect",
            "runner": "Виконавець процесів",
            "smtp": "Пошта (SMTP)",
            "dashboard": "Панель керування",
        }
        lines = [
            f"{names[key]}: {'працює' if value['ok'] else 'не працює'}"
            + (f" ({value['url']})" if value.get("url") else "")
            for key, value in report["components"].items()
        ]
        emit(report, json_output, "\n".join(lines))
        if not report["ok"]:
            raise typer.Exit(1)
