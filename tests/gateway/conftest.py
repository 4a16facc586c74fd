"""The ОІС access decision point on a free loopback port (a real uvicorn server in a thread of the test
process), following the test database."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import uvicorn

from aikom.gateway.app import create_app
from aikom.gateway.server import server_options
from aikom.settings import Settings

SECRET = "test-gateway-secret"
RATE, BURST = 100.0, 300.0
BAD_KEY_RATE, BAD_KEY_BURST = 2.0, 20.0


# --- the server --------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Gateway:
    url: str
    client: httpx.Client

    def decide(
        self, token: str | None, client_id: str, data_set: str = "classes", operation: str = "read",
        secret: str | None = SECRET,
    ) -> httpx.Response:  # fmt: skip
        headers = {}
        if secret is not None:
            headers["X-Gateway-Secret"] = secret
        if token is not None:
            headers["X-Api-Key"] = token
        body = {"client_id": client_id, "data_set": data_set, "operation": operation}
        return self.client.post(self.url + "/v1/decide", headers=headers, json=body)

    def reason(self, token: str, client_id: str, data_set: str = "classes", operation: str = "read") -> str:
        response = self.decide(token, client_id, data_set, operation)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["allow"] == (body["reason"] == "allowed")
        return str(body["reason"])

    def metrics(self) -> str:
        return self.client.get(self.url + "/metrics").text


@pytest.fixture(scope="module")
def gateway(database_url: str) -> Iterator[Gateway]:
    """The decision point on a free loopback port, in a thread of this process."""
    settings = Settings(
        database_url=database_url,
        ois_gateway_secret=SECRET,
        ois_gateway_rate_per_s=RATE,
        ois_gateway_burst=BURST,
        ois_gateway_bad_key_rate_per_s=BAD_KEY_RATE,
        ois_gateway_bad_key_burst=BAD_KEY_BURST,
    )
    port = _free_port()
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, **server_options())
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="ois-gateway", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{port}"
    client = httpx.Client(timeout=10.0)
    deadline = time.monotonic() + 60
    while True:
        try:
            if client.get(url + "/health").status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the decision point did not start"
        time.sleep(0.1)
    try:
        yield Gateway(url, client)
    finally:
        client.close()
        server.should_exit = True
        thread.join(timeout=10)
