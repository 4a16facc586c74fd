"""The stack watches its own logs: errors and tracebacks each component logged since a given offset.

A log record at level ERROR or CRITICAL counts once, together with the traceback that follows it; a
traceback printed without such a record (an uncaught exception) counts once too, unless it follows a
WARNING record (a warning logged with its exception is a warning). The message kept for
a record is its exception line when a traceback follows, else the record itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ERROR_RECORD = re.compile(r"(^|[\s|:\]\[])(ERROR|CRITICAL|FATAL|PANIC)([\s|:\]\[]|$)")
WARNING_RECORD = re.compile(r"(^|[\s|:\]\[])(WARNING|WARN)([\s|:\]\[]|$)")
# A line that starts a log record: a time of day (with or without a date) near its start.
LOG_RECORD = re.compile(r"^(\d{4}-\d{2}-\d{2}[ T])?\d{2}:\d{2}:\d{2}")
TRACEBACK_START = "Traceback (most recent call last):"
# Lines that continue a traceback: indented frames, chained-exception banners, blank lines.
CONTINUATION = re.compile(r"^(\s|$|During handling|The above exception|\+-|\|)")
MAX_MESSAGE = 500


@dataclass
class LoggedError:
    """One error a component logged: where it starts in the file and what it says."""

    offset: int
    record: str
    exception: str | None = None

    @property
    def message(self) -> str:
        """The line a person reads first: the exception when there is one, else the record."""
        text = self.exception or self.record
        return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"

    @property
    def text(self) -> str:
        """The record and its exception together (what expected-error patterns are matched against)."""
        return f"{self.record}\n{self.exception or ''}"


@dataclass
class LogErrors:
    """The errors found in a log from some offset to its end."""

    path: Path
    start: int
    end: int
    errors: list[LoggedError] = field(default_factory=list)

    @property
    def count(self) -> int:
        """How many errors."""
        return len(self.errors)

    @property
    def last(self) -> str | None:
        """The most recent error's message."""
        return self.errors[-1].message if self.errors else None

    def unexpected(self, expected: Iterable[re.Pattern[str]]) -> list[LoggedError]:
        """The errors no pattern in `expected` matches."""
        patterns = list(expected)
        return [e for e in self.errors if not any(p.search(e.text) for p in patterns)]


def scan_lines(lines: Sequence[tuple[int, str]]) -> list[LoggedError]:
    """The errors in (offset, line) pairs."""
    errors: list[LoggedError] = []
    current: LoggedError | None = None  # the error record a following traceback belongs to
    after_warning = False  # the last record was a warning: its traceback is part of the warning
    in_traceback = False
    for offset, raw in lines:
        line = raw.rstrip("\r\n")
        if line.startswith(TRACEBACK_START):
            if current is None and not after_warning:
                current = LoggedError(offset=offset, record=line)
                errors.append(current)
            in_traceback = True
            continue
        if in_traceback:
            if CONTINUATION.match(line):
                continue
            in_traceback = False
            # The first unindented line after the frames is the exception itself.
            if current is not None and current.exception is None:
                current.exception = line.strip()
                continue
            if after_warning and not LOG_RECORD.search(line):
                continue  # the warning's exception line
        if ERROR_RECORD.search(line):
            current = LoggedError(offset=offset, record=line.strip())
            errors.append(current)
            after_warning = False
        elif not CONTINUATION.match(line):
            current = None  # a new, non-error record: a later traceback is not this one's
            after_warning = bool(WARNING_RECORD.search(line))
    return errors


def errors_since(path: Path, offset: int = 0) -> LogErrors:
    """Errors logged in `path` from byte `offset` on (a missing file has none)."""
    if not path.exists():
        return LogErrors(path=path, start=offset, end=0)
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        start = offset if 0 <= offset <= size else 0  # a file rotated or truncated since: read it all
        handle.seek(start)
        lines: list[tuple[int, str]] = []
        position = start
        for raw in handle:
            lines.append((position, raw.decode("utf-8", errors="replace")))
            position += len(raw)
    return LogErrors(path=path, start=start, end=position, errors=scan_lines(lines))


def log_size(path: Path) -> int:
    """The current size of a log (0 when it does not exist yet)."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0
