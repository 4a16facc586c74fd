"""Environment of the Prefect processes: where Prefect keeps its state and results, which API they use."""

from __future__ import annotations

import json
import os
from pathlib import Path

from aikom.settings import Settings


def prefect_home(settings: Settings) -> Path:
    """PREFECT_HOME of every Prefect process of this installation (profiles, UI build, memo store)."""
    return settings.data_dir / "prefect"


def result_storage_dir(settings: Settings) -> Path:
    """Where flow and task results are persisted (suspension needs them; every runner must read them)."""
    return prefect_home(settings) / "results"


def logs_dir(settings: Settings) -> Path:
    """Log files of the Prefect server and the runner."""
    return settings.data_dir / "logs"


def settings_env(settings: Settings) -> dict[str, str]:
    """The settings as `AIKOM_*` variables, so that child processes see exactly this configuration."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        env[f"AIKOM_{name.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    return env


def prefect_env(settings: Settings, api_url: str) -> dict[str, str]:
    """The environment of a Prefect process: the parent's, plus this installation's Prefect settings."""
    env = dict(os.environ)
    env.update(settings_env(settings))
    env.update(
        {
            "AIKOM_PREFECT_API_URL": api_url,
            "PREFECT_API_URL": api_url,
            "PREFECT_HOME": str(prefect_home(settings)),
            "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
            # Suspended runs restart in a fresh process: every step before the wait must find its result.
            "PREFECT_RESULTS_PERSIST_BY_DEFAULT": "true",
            "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(result_storage_dir(settings)),
            # A resumed run waits for the runner's next poll (default 10 s). This setting is an integer;
            # our runner passes its 0.25 s to the `Runner` directly (`runner.POLL_SECONDS`).
            "PREFECT_RUNNER_POLL_FREQUENCY": "1",
            # Never fall back to an ephemeral SQLite server when the API is unreachable.
            "PREFECT_SERVER_EPHEMERAL_ENABLED": "false",
            # Round trips every API client of a flow run would otherwise make before its first call
            # (a flow run opens several): the server's version (these processes run the same pinned
            # Prefect as the server, which the runner and the stack start together), and a CSRF token
            # the server does not ask for (its CSRF protection is off, stated here for both sides).
            "PREFECT_CLIENT_SERVER_VERSION_CHECK_ENABLED": "false",
            "PREFECT_CLIENT_CSRF_SUPPORT_ENABLED": "false",
            "PREFECT_SERVER_API_CSRF_PROTECTION_ENABLED": "false",
        }
    )
    return env
