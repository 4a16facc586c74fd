"""The cache policy of every step that must not run twice in one flow run.

RUN_ID + INPUTS alone gives two different tasks called with the same arguments (e.g. `load_process(7)`
and `approver_scope(7)`) the same key, so the second returns the first one's result. The task's name
is added; its source is not (DESIGN §6: steps before a suspension must find their result on resume).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from prefect.cache_policies import INPUTS, RUN_ID, CachePolicy
from prefect.context import TaskRunContext


@dataclass
class TaskName(CachePolicy):
    """Keys a step by its task's name."""

    def compute_key(
        self,
        task_ctx: TaskRunContext,
        inputs: dict[str, Any],
        flow_parameters: dict[str, Any],
        **kwargs: Any,
    ) -> str | None:
        """The task's name (None outside a task run)."""
        return task_ctx.task.name if task_ctx else None


STEP_CACHE = RUN_ID + INPUTS + TaskName()
