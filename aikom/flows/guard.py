"""What every process flow does when a business rule refuses one of its steps."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

from aikom.core.errors import DomainError
from aikom.orchestration import prefect_fixes
from aikom.processes.registry import ProcessSpec
from aikom.tasks.processes import check_flow_version, fail_process

# Prefect's own records about a failed step or run ("… encountered an exception NotInScope: …").
FAILED_BY = re.compile(r"(?:encountered an exception|during execution:) (\w+)[:(]")
# The loggers through which Prefect reports a failed task or flow run.
ENGINE_LOGGERS = ("prefect.flow_runs", "prefect.task_runs", "prefect.engine")


@contextmanager
def stops_on_refusal(process_id: int, spec: ProcessSpec | None = None) -> Iterator[None]:
    """Run the flow's body; a refusal (DomainError) stops the process as FAILED with its Ukrainian
    message and tells the requester, then fails the run (the reconciler leaves finished processes be).

    With the process's `spec`, every (re)start first checks the flow's version: a run resumed on a
    changed flow goes on only while the flow still knows every step of its process (else the process is
    flagged for an operator and the run stops).
    Other errors propagate untouched: the steps retry them, and the reconciler repairs the run.
    Prefect's pause/suspend signals are BaseExceptions and pass through.
    """
    try:
        if spec is not None:
            check_flow_version(process_id, spec.known_steps())
        yield
    except DomainError as refusal:
        fail_process(process_id, refusal.message_uk)
        raise


def _refusal_names() -> set[str]:
    names: set[str] = set()
    pending: list[type[DomainError]] = [DomainError]
    while pending:
        cls = pending.pop()
        names.add(cls.__name__)
        pending.extend(cls.__subclasses__())
    return names


def is_refusal(record: logging.LogRecord) -> bool:
    """Whether a log record reports a business rule refusing a step (not a fault of the system)."""
    if record.exc_info and isinstance(record.exc_info[1], DomainError):
        return True
    if isinstance(record.args, tuple) and any(isinstance(arg, DomainError) for arg in record.args):
        return True
    found = FAILED_BY.search(record.getMessage())
    return found is not None and found.group(1) in _refusal_names()


class RefusalIsAWarning(logging.Filter):
    """A refused step is a business outcome — the process is FAILED with its reason, the requester is
    told — not a fault: Prefect's ERROR records about it are logged as WARNING, so that the stack's
    error count (`aikom status`) holds only what needs an operator."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Lower a refusal's record to WARNING; keep every record."""
        if record.levelno >= logging.ERROR and is_refusal(record):
            record.levelno = logging.WARNING
            record.levelname = "WARNING"
        return True


def install_refusal_filter() -> None:
    """Put `RefusalIsAWarning` on Prefect's engine loggers of this process (once)."""
    for name in ENGINE_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RefusalIsAWarning) for f in logger.filters):
            logger.addFilter(RefusalIsAWarning())


install_refusal_filter()
prefect_fixes.apply()  # a flow process meets the same Prefect defects as the runner
