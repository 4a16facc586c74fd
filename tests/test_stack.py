"""`aikom up` refuses, with a clear message, to start over a port that is already taken."""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from aikom.cli.main import app
from aikom.settings import get_settings
from aikom.stack import PortTaken, check_ports_free


def test_a_taken_port_is_refused_before_anything_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setenv("AIKOM_DASHBOARD_PORT", str(port))
        monkeypatch.setenv("AIKOM_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
        get_settings.cache_clear()
        try:
            with pytest.raises(PortTaken) as refused:
                check_ports_free(get_settings())
            assert f"Порт {port}" in refused.value.message_uk
            result = CliRunner().invoke(app, ["up"])  # fails before touching the (unreachable) database
            assert isinstance(result.exception, PortTaken)
        finally:
            get_settings.cache_clear()
