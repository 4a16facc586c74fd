"""What a running `aikom up` records about itself for `aikom status`: when it started, where each
component's log stood at that moment (so "errors since start" can be counted) and how often each
component had to be started again."""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aikom.logwatch import log_size
from aikom.orchestration.environment import logs_dir
from aikom.settings import Settings

# The log of each component, as `aikom status` names them.
LOG_FILES = {
    "stack": "stack.log",  # `aikom up` itself: supervision, SMTP sink, outbox delivery
    "prefect_server": "prefect-server.log",
    "runner": "runner.log",
    "dashboard": "dashboard.log",
    "ois_gateway": "ois_gateway.log",  # the ОІС access decision point
}
STATE_FILE = "stack.json"


def log_paths(settings: Settings) -> dict[str, Path]:
    """Each component's log file."""
    folder = logs_dir(settings)
    return {name: folder / file for name, file in LOG_FILES.items()}


@dataclass
class StackState:
    """The record a running stack keeps in `<data_dir>/logs/stack.json`."""

    path: Path
    pid: int
    started_at: str
    offsets: dict[str, int]
    restarts: dict[str, dict[str, Any]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def begin(cls, settings: Settings) -> StackState:
        """Record a stack starting now: the current end of every log is where "since start" begins."""
        folder = logs_dir(settings)
        folder.mkdir(parents=True, exist_ok=True)
        state = cls(
            path=folder / STATE_FILE,
            pid=os.getpid(),
            started_at=datetime.now(UTC).isoformat(),
            offsets={name: log_size(path) for name, path in log_paths(settings).items()},
        )
        state.save()
        return state

    @classmethod
    def read(cls, settings: Settings) -> StackState | None:
        """The record of the last stack started with these settings, if any."""
        path = logs_dir(settings) / STATE_FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        return cls(
            path=path,
            pid=int(data["pid"]),
            started_at=str(data["started_at"]),
            offsets={str(k): int(v) for k, v in data.get("offsets", {}).items()},
            restarts=dict(data.get("restarts", {})),
        )

    def record_restart(self, component: str) -> None:
        """Count one more restart of `component`."""
        with self._lock:
            entry = self.restarts.setdefault(component, {"count": 0, "last_at": None})
            entry["count"] = int(entry["count"]) + 1
            entry["last_at"] = datetime.now(UTC).isoformat()
            self.save()

    def save(self) -> None:
        """Write the record atomically."""
        payload = {
            "pid": self.pid,
            "started_at": self.started_at,
            "offsets": self.offsets,
            "restarts": self.restarts,
        }
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(json.dumps(payload, ensure_ascii=False, indent=2), encoding="utf-8")
        temporary.replace(self.path)
