"""Child processes of the stack (Prefect server, runner, dashboard): started in their own session with
a log file, stopped with SIGTERM and, after a timeout, SIGKILL."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

log = logging.getLogger(__name__)


def spawn(command: Sequence[str], *, env: Mapping[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """Start `command` with its output appended to `log_path`.

    Its own session: Ctrl-C in the terminal reaches only `aikom up`, which stops the stack in order.
    """
    log_path.parent.mkdir(parents=True, exist_ok=True)
    log_file: IO[bytes] = log_path.open("ab")
    try:
        return subprocess.Popen(
            list(command),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log_file.close()


@dataclass(kw_only=True)
class ChildProcess:
    """A running child process."""

    process: subprocess.Popen[bytes]
    log_path: Path | None = None
    stop_timeout: float = 30.0

    @property
    def pid(self) -> int:
        """Its process id."""
        return self.process.pid

    def running(self) -> bool:
        """Whether it is still alive."""
        return self.process.poll() is None

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM, then SIGKILL when it has not exited within `timeout` (default: `stop_timeout`)."""
        if not self.running():
            return
        timeout = self.stop_timeout if timeout is None else timeout
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            log.warning("process %s did not stop in %.0f s; killing it", self.pid, timeout)
            self.kill()

    def kill(self) -> None:
        """Kill it at once (what a crash or an OOM kill does)."""
        if self.running():
            self.process.kill()
            self.process.wait(timeout=10)

    def kill_group(self) -> None:
        """Kill it and every process it started in its session at once (what a machine going down does
        to a runner and the flow processes it was running)."""
        if self.running():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
