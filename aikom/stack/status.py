"""`aikom status`: each component as far as it can be seen from outside, the errors each logged since
the stack started, how often each was started again, and whether the reconciler runs on its own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import text

from aikom.db import database_url, unit_of_work
from aikom.logwatch import errors_since
from aikom.settings import Settings
from aikom.stack.components import dashboard_url, http_ok, ois_gateway_url, port_open
from aikom.stack.state import StackState, log_paths

# The reconciler is scheduled every minute; a stack up for longer than this with no completed pass is not ok.
RECONCILE_LATE = timedelta(minutes=3)
# Which log tells about which component.
COMPONENT_LOGS = {
    "prefect_server": "prefect_server",
    "runner": "runner",
    "dashboard": "dashboard",
    "ois_gateway": "ois_gateway",
    "outbox": "stack",
}
RESTART_NAMES = {
    "postgresql": "postgresql",
    "prefect_server": "prefect-server",
    "runner": "runner",
    "dashboard": "dashboard",
    "ois_gateway": "ois-gateway",
}


def _reconciler(settings: Settings, started_at: datetime | None) -> dict[str, Any]:
    """The scheduled reconciler's completed runs since the stack started, and the last one."""
    from aikom.deployments import deployment_for
    from aikom.orchestration.adapter import OrchestratorUnavailable, RunStateType, count_runs, find_runs

    since = started_at or datetime.now(UTC) - timedelta(hours=1)
    name = deployment_for("reconcile")
    try:
        completed = count_runs(deployments=[name], states=[RunStateType.COMPLETED], ended_after=since)
        failed = count_runs(
            deployments=[name], states=[RunStateType.FAILED, RunStateType.CRASHED], ended_after=since
        )
        last = find_runs(deployments=[name], states=[RunStateType.COMPLETED], ended_after=since, limit=1)
    except OrchestratorUnavailable:
        return {"ok": False, "completed_runs": None, "failed_runs": None, "last_completed_at": None}
    last_at = last[0].end_time if last else None
    up_for = datetime.now(UTC) - since
    ok = up_for < RECONCILE_LATE or (last_at is not None and datetime.now(UTC) - last_at < RECONCILE_LATE)
    return {
        "ok": ok,
        "completed_runs": completed,
        "failed_runs": failed,
        "last_completed_at": last_at.isoformat() if last_at else None,
    }


def status(settings: Settings) -> dict[str, Any]:
    """The state of each component, its errors since start and its restarts."""
    components: dict[str, Any] = {}
    try:
        with unit_of_work() as session:
            session.execute(text("SELECT 1"))
        components["postgresql"] = {"ok": True, "url": database_url(settings).split("?")[0]}
    except Exception as error:
        components["postgresql"] = {"ok": False, "error": type(error).__name__}
    api = settings.prefect_api_url
    components["prefect_server"] = {"ok": http_ok(api + "/health"), "url": api.removesuffix("/api")}
    runner_ok = False
    if components["prefect_server"]["ok"]:
        from aikom.deployments import all_deployments
        from aikom.orchestration.adapter import OrchestratorUnavailable, deployment_ready

        try:
            runner_ok = all(deployment_ready(spec.full_name) for spec in all_deployments())
        except OrchestratorUnavailable:
            runner_ok = False
    components["runner"] = {"ok": runner_ok}
    components["smtp"] = {
        "ok": port_open(settings.smtp_host, settings.smtp_port),
        "url": f"smtp://{settings.smtp_host}:{settings.smtp_port}",
    }
    components["outbox"] = {"ok": components["postgresql"]["ok"] and components["smtp"]["ok"]}
    components["dashboard"] = {
        "ok": http_ok(dashboard_url(settings) + "/_stcore/health"),
        "url": dashboard_url(settings),
    }
    components["ois_gateway"] = {
        "ok": http_ok(ois_gateway_url(settings) + "/health"),
        "url": ois_gateway_url(settings),
    }
    state = StackState.read(settings)
    started_at = datetime.fromisoformat(state.started_at) if state else None
    components["reconciler"] = (
        _reconciler(settings, started_at) if runner_ok else {"ok": False, "completed_runs": None}
    )
    paths = log_paths(settings)
    for component, log_name in COMPONENT_LOGS.items():
        found = errors_since(paths[log_name], state.offsets.get(log_name, 0) if state else 0)
        components[component]["errors"] = {"count": found.count, "last": found.last}
        components[component]["log"] = str(paths[log_name])
    for component, restart_name in RESTART_NAMES.items():
        restarts = state.restarts.get(restart_name, {}) if state else {}
        components[component]["restarts"] = int(restarts.get("count", 0))
    return {
        "ok": all(c["ok"] for c in components.values()),
        "started_at": state.started_at if state else None,
        "errors": sum(c.get("errors", {}).get("count", 0) for c in components.values()),
        "components": components,
    }
