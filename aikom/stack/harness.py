"""Drive a whole `aikom up` from outside, as tests and benchmarks do: start it on its own data folder and
free ports (embedded PostgreSQL, as on a machine with no configuration; the real registers and demo
data), run `aikom` commands against it, find its processes, freeze its supervisor, stop it with Ctrl-C.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from aikom.core import pki
from aikom.settings import Settings
from aikom.stack.state import log_paths

UP_TIMEOUT = 300.0
STOP_TIMEOUT = 150.0


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class System:
    """A running `aikom up`."""

    env: dict[str, str]
    data_dir: Path
    dashboard: str
    prefect_port: int
    process: subprocess.Popen[bytes]
    persons: dict[str, dict[str, Any]]
    logs: dict[str, Path]

    def run(self, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run an `aikom` command against this system."""
        done = subprocess.run(
            [sys.executable, "-m", "aikom.cli.main", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"aikom {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
        return done

    def aikom(self, *args: str, check: bool = True, timeout: float = 120) -> Any:
        """Run an `aikom` command against this system; its JSON output."""
        done = self.run(*args, "--json", check=check, timeout=timeout)
        return json.loads(done.stdout) if done.stdout.strip() else None

    def sign(self, person: str, content: bytes) -> bytes:
        """What the person's signing app does with their demo key."""
        prefix = self.data_dir / "pki" / "persons" / person
        key = serialization.load_pem_private_key(Path(f"{prefix}.key.pem").read_bytes(), password=None)
        cert = x509.load_pem_x509_certificate(Path(f"{prefix}.cert.pem").read_bytes())
        return pki.sign_detached(key, cert, content)  # type: ignore[arg-type]

    def person_id(self, key: str) -> int:
        """A demo person's card number."""
        return int(self.persons[key]["person_id"])

    def up_log(self) -> str:
        """What `aikom up` printed."""
        return (self.data_dir / "up.log").read_text(errors="replace")

    def child(self, *cmdline_parts: str) -> psutil.Process:
        """The process of `aikom up` whose command line holds every part (e.g. the Prefect server)."""
        for proc in psutil.Process(self.process.pid).children(recursive=True):
            try:
                cmdline = " ".join(proc.cmdline())
            except psutil.Error:
                continue
            if all(part in cmdline for part in cmdline_parts):
                return proc
        raise LookupError(f"no child of aikom up runs {cmdline_parts}")

    def prefect_server(self) -> psutil.Process:
        """The Prefect server process of this stack."""
        return self.child("prefect", "server", "start", str(self.prefect_port))

    @contextmanager
    def supervisor_paused(self) -> Iterator[None]:
        """Freeze `aikom up` itself (its supervision, SMTP sink and outbox delivery) for a block."""
        os.kill(self.process.pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(self.process.pid, signal.SIGCONT)

    def wait_until(self, predicate: Any, what: str, timeout: float = 240, every: float = 2.0) -> Any:
        """Poll `predicate()` until it returns something truthy; that value."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if self.process.poll() is not None:
                raise RuntimeError("aikom up exited:\n" + self.up_log()[-3000:])
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not within {timeout:.0f} s")
            time.sleep(every)


def start_system(data_dir: Path) -> System:
    """`aikom up` on embedded PostgreSQL in `data_dir`, on free ports; wait until it says it runs."""
    dashboard_port, smtp_port, prefect_port = free_port(), free_port(), free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith(("AIKOM_", "PREFECT_"))}
    env.update(
        {
            "AIKOM_DATA_DIR": str(data_dir),
            "AIKOM_DASHBOARD_PORT": str(dashboard_port),
            "AIKOM_SMTP_PORT": str(smtp_port),
            "AIKOM_PREFECT_API_URL": f"http://127.0.0.1:{prefect_port}/api",
            "AIKOM_OIS_GATEWAY_PORT": str(free_port()),
        }
    )
    log = (data_dir / "up.log").open("wb")
    up = subprocess.Popen(
        [sys.executable, "-m", "aikom.cli.main", "up"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    log.close()
    deadline = time.monotonic() + UP_TIMEOUT
    while b"Ctrl-C" not in (data_dir / "up.log").read_bytes():
        if up.poll() is not None or time.monotonic() > deadline:
            up.kill()
            raise RuntimeError("aikom up did not come up:\n" + (data_dir / "up.log").read_text()[-5000:])
        time.sleep(1)
    persons = {p["key"]: p for p in json.loads((data_dir / "pki" / "demo_persons.json").read_text())}
    return System(
        env=env,
        data_dir=data_dir,
        dashboard=f"http://127.0.0.1:{dashboard_port}",
        prefect_port=prefect_port,
        process=up,
        persons=persons,
        logs=log_paths(Settings(data_dir=data_dir)),
    )


def stop_system(system: System) -> bool:
    """Ctrl-C, as a person stops it; whether it stopped in order and said so."""
    up = system.process
    if up.poll() is None:
        up.send_signal(signal.SIGCONT)  # in case a failed test left it frozen
        up.send_signal(signal.SIGINT)
    try:
        up.wait(timeout=STOP_TIMEOUT)
        stopped = True
    except subprocess.TimeoutExpired:
        for proc in psutil.Process(up.pid).children(recursive=True):
            proc.kill()
        up.kill()
        stopped = False
    return stopped and "Зупинено." in system.up_log()
