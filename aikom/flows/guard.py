"""What every process flow does when a business rule refuses one of its steps."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aikom.core.errors import DomainError
from aikom.tasks.processes import fail_process


@contextmanager
def stops_on_refusal(process_id: int) -> Iterator[None]:
    """Run the flow's body; a refusal (DomainError) stops the process as FAILED with its Ukrainian
    message and tells the requester, then fails the run (the reconciler leaves finished processes be).

    Other errors propagate untouched: the steps retry them, and the reconciler repairs the run.
    Prefect's pause/suspend signals are BaseExceptions and pass through.
    """
    try:
        yield
    except DomainError as refusal:
        fail_process(process_id, refusal.message_uk)
        raise
