"""A guard over the logs of the components a test runs (Prefect server, runner, the stack): a test fails
when one of them logged an ERROR or a traceback that the test did not say it expected.

Patterns a test declares stay accepted for the rest of the session, so that a line a component writes
a moment after its test ended is not blamed on the next test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from aikom.logwatch import LoggedError, errors_since, log_size


@dataclass
class LogGuard:
    """Watches named log files from where they stood when last checked."""

    logs: dict[str, Path]
    offsets: dict[str, int] = field(default_factory=dict)
    expected: list[re.Pattern[str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.mark()

    def mark(self) -> None:
        """From now on: what is in the logs already is not this guard's business."""
        self.offsets = {name: log_size(path) for name, path in self.logs.items()}

    def expect(self, pattern: str) -> None:
        """Accept errors whose record or exception matches `pattern` (a regular expression)."""
        self.expected.append(re.compile(pattern))

    def unexpected(self) -> list[tuple[str, LoggedError]]:
        """Errors logged since the last check that no expected pattern matches; moves the mark on."""
        found: list[tuple[str, LoggedError]] = []
        for name, path in self.logs.items():
            errors = errors_since(path, self.offsets.get(name, 0))
            self.offsets[name] = errors.end
            found += [(name, error) for error in errors.unexpected(self.expected)]
        return found

    def report(self, found: list[tuple[str, LoggedError]]) -> str:
        """A failure message naming each log and error."""
        lines = [f"{len(found)} unexpected error(s) in the component logs:"]
        lines += [
            f"  {name} ({self.logs[name]}): {error.record[:300]} | {error.exception}" for name, error in found
        ]
        return "\n".join(lines)
