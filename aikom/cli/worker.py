"""`aikom worker`: join this machine to the Prefect work pool that runs the processes (scale-out)."""

from __future__ import annotations

import os
import sys

import typer

from aikom.cli.output import emit


def register(app: typer.Typer) -> None:
    """Add `aikom worker` to the main app."""

    @app.command(
        "worker",
        help="Приєднати цю машину до пулу виконавців Prefect: ще одна машина для процесів (Ctrl-C зупиняє)",
    )
    def worker(
        results: str = typer.Option(
            ...,
            "--results",
            help="Спільне сховище результатів кроків для всіх виконавців: тека або block:<тип>/<назва>",
        ),
        pool: str = typer.Option("aikom", "--pool", help="Пул виконавців Prefect"),
        name: str | None = typer.Option(
            None, "--name", help="Назва виконавця (типово: машина і номер процесу)"
        ),
        limit: int | None = typer.Option(None, "--limit", help="Найбільше одночасних запусків"),
        without_schedules: bool = typer.Option(
            False, "--without-schedules", help="Не створювати запусків за розкладом (звіряння)"
        ),
        json_output: bool = typer.Option(False, "--json", help="Звіт у JSON перед запуском"),
    ) -> None:
        """Serve the work pool on this machine until SIGTERM/Ctrl-C (flow processes drain first)."""
        from aikom.orchestration.environment import prefect_home
        from aikom.orchestration.worker import worker_command, worker_env, worker_environment_summary
        from aikom.settings import get_settings

        settings = get_settings()
        prefect_home(settings).mkdir(parents=True, exist_ok=True)
        env = worker_env(settings, settings.prefect_api_url, results=results)
        summary = {"pool": pool, **worker_environment_summary(env)}
        emit(summary, json_output, f"Виконавець приєднується до пулу «{pool}» ({settings.prefect_api_url}).")
        sys.stdout.flush()
        # The worker process replaces this one: signals reach it directly, and the flow processes it
        # forks from its forkserver do not carry the command line's imports.
        command = worker_command(pool=pool, name=name, limit=limit, with_schedules=not without_schedules)
        os.execve(sys.executable, [sys.executable, *command], env)
