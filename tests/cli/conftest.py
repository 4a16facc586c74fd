"""CLI tests: `aikom …` in-process against the test database, the test PKI and a process engine that is
down (the CLI then records what it can and says the rest happens once the engine is back)."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from aikom.settings import get_settings
from tests.signing import SigningPki

Aikom = Callable[..., tuple[int, Any]]


def _dead_api_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/api"


@pytest.fixture
def aikom(
    database_url: str, signing_pki: SigningPki, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Aikom]:
    """Run `aikom ARGS --json`; (exit code, the JSON it printed). Demo mode on, the engine unreachable."""
    from aikom.cli.main import app

    monkeypatch.setenv("AIKOM_DATABASE_URL", database_url)
    monkeypatch.setenv("AIKOM_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("AIKOM_DEMO_MODE", "true")
    monkeypatch.setenv("AIKOM_PREFECT_API_URL", _dead_api_url())
    monkeypatch.setenv("AIKOM_TRUST_DIR", str(signing_pki.trust_dir))
    get_settings.cache_clear()
    runner = CliRunner()

    def call(*args: str) -> tuple[int, Any]:
        result = runner.invoke(app, [*args, "--json"])
        assert result.exception is None or isinstance(result.exception, SystemExit), result.output
        return result.exit_code, json.loads(result.stdout)

    yield call
    get_settings.cache_clear()
