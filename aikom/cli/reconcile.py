"""`aikom reconcile`: one reconciliation pass between the database and the process engine."""

from __future__ import annotations

import typer

from aikom.cli.output import emit


def register(app: typer.Typer) -> None:
    """Add `aikom reconcile` to the main app."""

    @app.command(
        "reconcile",
        help="Продовжити процеси з ухваленими рішеннями, закрити прострочені кроки, відновити збої",
    )
    def reconcile(json_output: bool = typer.Option(False, "--json", help="Звіт у JSON")) -> None:
        """Resume decided runs, expire overdue tasks, repair crashed runs, launch stuck processes."""
        from aikom.services.reconcile import reconcile as reconcile_service

        report = reconcile_service()
        human = (
            f"Продовжено: {len(report.resumed)}, прострочено: {len(report.expired)}, "
            f"відновлено запусків: {len(report.repaired)}, запущено: {len(report.launched)}, "
            f"зупинено з помилкою: {len(report.failed)}"
        )
        if not report.orchestrator_available:
            human += "\nСервер процесів недоступний: решту буде зроблено під час наступного проходу."
        emit(report.model_dump(), json_output, human)
