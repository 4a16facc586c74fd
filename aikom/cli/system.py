"""`aikom up` and `aikom status`: the whole local system."""

from __future__ import annotations

from typing import Any

import typer

from aikom.cli.output import emit
from aikom.settings import Settings, get_settings


def register(app: typer.Typer) -> None:
    """Add the system commands to the main app."""

    @app.command("up", help="Запустити систему: база, реєстри, демо-дані й сервіси (Ctrl-C зупиняє)")
    def up(
        json_output: bool = typer.Option(False, "--json", help="Звіт у JSON"),
        detach: bool = typer.Option(False, "--detach", help="Лише підготувати базу"),
    ) -> None:
        """Start the system: database, migrations, registers, demo data and services (Ctrl-C stops it)."""
        from aikom.stack import (
            Stack,
            StackState,
            check_ports_free,
            prepare,
            run_until_interrupted,
            start_services,
        )

        settings = get_settings()
        state: StackState | None = None
        if not detach:
            check_ports_free(settings)  # before the long preparation, not after it
            _log_to_file(settings)
            state = StackState.begin(settings)  # errors from here on count as "since start"
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
        stack = Stack(settings, state=state)
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
        emit(report, json_output, "\n".join(_status_lines(report)))
        if not report["ok"]:
            raise typer.Exit(1)


COMPONENT_NAMES_UK = {
    "postgresql": "PostgreSQL",
    "prefect_server": "Сервер процесів Prefect",
    "runner": "Виконавець процесів",
    "smtp": "Пошта (SMTP)",
    "outbox": "Доставлення пошти",
    "dashboard": "Панель керування",
    "reconciler": "Узгоджувач (щохвилини)",
}


def _status_lines(report: dict[str, Any]) -> list[str]:
    """One Ukrainian line per component: state, address, errors since start, restarts."""
    lines = []
    for key, value in report["components"].items():
        line = f"{COMPONENT_NAMES_UK.get(key, key)}: {'працює' if value['ok'] else 'не працює'}"
        if value.get("url"):
            line += f" ({value['url']})"
        errors = value.get("errors") or {}
        if errors.get("count"):
            line += f"; помилок від запуску: {errors['count']}, остання: {errors['last']}"
        if value.get("restarts"):
            line += f"; перезапусків: {value['restarts']}"
        if key == "reconciler" and value.get("completed_runs") is not None:
            line += f"; проходів: {value['completed_runs']}"
        lines.append(line)
    logs = sorted({v["log"] for v in report["components"].values() if v.get("log")})
    if logs:
        lines.append("Журнали: " + ", ".join(logs))
    return lines


def _log_to_file(settings: Settings) -> None:
    """`aikom up` logs to `<data_dir>/logs/stack.log` (supervision, SMTP sink, outbox delivery)."""
    import logging

    from aikom.stack.state import log_paths

    path = log_paths(settings)["stack"]
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    for noisy in ("httpx", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
