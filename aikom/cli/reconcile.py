"""`aikom reconcile`: one reconciliation pass between the database and the process engine."""

from __future__ import annotations

import typer

from aikom.cli.output import emit


def register(app: typer.Typer) -> None:
    """Add `aikom reconcile` to the main app."""

    @app.command(
        "reconcile",
        help="Один прохід узгоджувача: нагадування, ескалація й закриття прострочених кроків, передача "
        "завдань відсутніх, продовження процесів з ухваленими рішеннями, відновлення збоїв",
    )
    def reconcile(json_output: bool = typer.Option(False, "--json", help="Звіт у JSON")) -> None:
        """Deadlines and absences, then resume decided runs, repair crashed runs, launch stuck processes."""
        from aikom.services.reconcile import reconcile as reconcile_service

        report = reconcile_service()
        human = (
            f"Нагадано: {len(report.reminded)}, передано вище: {len(report.escalated)}, "
            f"передано за відсутності: {len(report.handed_over)}, "
            f"продовжено: {len(report.resumed)}, прострочено: {len(report.expired)}, "
            f"відновлено запусків: {len(report.repaired)}, запущено: {len(report.launched)}, "
            f"зупинено з помилкою: {len(report.failed)}"
        )
        if report.support_mail_error:
            human += f"\nПошту служби підтримки не прочитано: {report.support_mail_error}"
        if not report.orchestrator_available:
            human += "\nСервер процесів недоступний: решту буде зроблено під час наступного проходу."
        emit(report.model_dump(), json_output, human)
