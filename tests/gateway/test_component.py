"""`aikom ois serve` as `aikom up` runs it: a supervised child process answering on its port."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

from aikom.settings import Settings
from aikom.stack.components import Stack, launch_ois_gateway, ois_gateway_url, start_ois_gateway


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_stack_runs_the_decision_point_and_starts_it_again(database_url: str, tmp_path: Path) -> None:
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path,
        ois_gateway_port=_free_port(),
        ois_gateway_secret="s3cret",
    )
    stack = Stack(settings)
    try:
        start_ois_gateway(settings, stack)
        [component] = stack.components
        assert component.name == "ois-gateway"
        assert component.url == ois_gateway_url(settings)
        answer = httpx.post(
            component.url + "/v1/decide",
            headers={"X-Gateway-Secret": "s3cret", "X-Api-Key": "not-a-key"},
            json={"client_id": "x", "data_set": "classes", "operation": "read"},
        )
        assert answer.json()["reason"] == "key_malformed"
        assert httpx.post(component.url + "/v1/decide", json={}).status_code == 401

        # Killed from outside: the supervisor sees it and starts it again.
        assert component.alive is not None and component.alive()
        stack.components[0].stop()
        assert not component.alive()
        assert stack.supervise(now=1e9) == ["ois-gateway"]
        assert component.alive()
        assert httpx.get(component.url + "/health").status_code == 200
    finally:
        stack.stop_all()
    assert (tmp_path / "logs" / "ois_gateway.log").exists()


def test_a_gateway_that_cannot_start_says_where_to_look(tmp_path: Path) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    try:
        settings = Settings(
            database_url="postgresql+psycopg://nobody@127.0.0.1:1/none", data_dir=tmp_path,
            ois_gateway_port=taken.getsockname()[1],
        )  # fmt: skip
        try:
            launch_ois_gateway(settings, timeout=5)
        except RuntimeError as error:
            assert "ois_gateway.log" in str(error)
        else:
            raise AssertionError("a gateway with no database and a taken port started")
    finally:
        taken.close()
