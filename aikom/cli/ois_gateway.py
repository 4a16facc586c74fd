"""`aikom ois serve`: the ОІС access decision point (an HTTP service the central database's gateway calls)."""

from __future__ import annotations

import typer

from aikom.cli.ois import app


@app.command("serve")
def serve(
    host: str = typer.Option(None, "--host", help="Адреса (типово AIKOM_OIS_GATEWAY_HOST, 127.0.0.1)"),
    port: int = typer.Option(None, "--port", help="Порт (типово AIKOM_OIS_GATEWAY_PORT, 8610)"),
    workers: int = typer.Option(None, "--workers", help="Кількість процесів (типово 1)"),
) -> None:
    """Запустити точку рішень про доступ ОІС (POST /v1/decide, /metrics)."""
    from aikom.gateway.server import serve as run_server
    from aikom.settings import get_settings

    run_server(get_settings(), host=host, port=port, workers=workers)
