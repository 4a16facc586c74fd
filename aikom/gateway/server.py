"""Running the decision point under uvicorn (uvloop and httptools: the fastest pinned pair)."""

from __future__ import annotations

import logging
import os
from typing import Any

import uvicorn

from aikom.settings import Settings

FACTORY = "aikom.gateway.app:create_app_from_settings"


def server_options() -> dict[str, Any]:
    """The uvicorn settings the decision point (and the bench's hello-world peer) run with."""
    return {
        "loop": "uvloop",
        "http": "httptools",
        "access_log": False,
        "log_level": "warning",
        # The gateway keeps its connections open; a long keep-alive avoids reconnect storms.
        "timeout_keep_alive": 30,
        "backlog": 2048,
    }


def serve(
    settings: Settings, host: str | None = None, port: int | None = None, workers: int | None = None
) -> None:
    """Serve until SIGINT/SIGTERM; each worker process keeps its own snapshot (and rate limits)."""
    from aikom.gateway.app import require_gateway_secret

    require_gateway_secret(settings)  # before any worker starts: a message, not a traceback
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if settings.database_url:
        # Workers build their app from the environment's settings: the same database as this process.
        os.environ["AIKOM_DATABASE_URL"] = settings.database_url
    uvicorn.run(
        FACTORY,
        factory=True,
        host=host or settings.ois_gateway_host,
        port=port or settings.ois_gateway_port,
        workers=workers or settings.ois_gateway_workers,
        **server_options(),
    )
