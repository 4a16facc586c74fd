"""The scheduled reconciler: keeps waiting runs in step with the decisions in the database."""

from __future__ import annotations

from typing import Any

from prefect import flow, task
from prefect.cache_policies import NO_CACHE


@task(name="reconcile-pass", cache_policy=NO_CACHE, persist_result=False)
def reconcile_pass() -> dict[str, Any]:
    """Expire overdue tasks, wake decided runs, repair crashed runs, launch stuck processes."""
    from aikom.services.reconcile import reconcile as reconcile_service

    return reconcile_service().model_dump()


@flow(name="reconcile", persist_result=False)
def reconcile() -> dict[str, Any]:
    """One reconciliation pass (scheduled every minute by the runner)."""
    # 1. Reconcile.
    return reconcile_pass()
