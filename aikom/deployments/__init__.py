"""Every deployment the runner serves: one per declared process (`aikom.processes`), plus the
scheduled reconciler.

A process flow takes one parameter, `process_id`; its flow's name is the process type and its deployment
"<type>/aikom". Processes are declared in the registry — nothing here lists them.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from prefect import Flow
    from prefect.deployments.runner import RunnerDeployment

DEPLOYMENT_NAME = "aikom"
RECONCILE_INTERVAL_SECONDS = 60


@dataclass(frozen=True)
class DeploymentSpec:
    """A flow to serve: where it lives, its name, an optional schedule and concurrency limit."""

    flow_path: str  # "package.module:flow_function"
    flow_name: str  # the @flow(name=...) — also the process's `parameters["flow"]`
    interval_seconds: int | None = None
    # At most this many runs at once; further runs are cancelled, not queued (a late backlog of a
    # scheduled job after downtime collapses into one run).
    concurrency_limit: int | None = None
    # Whether it runs a business process (its flow name is then the process type).
    is_process: bool = False

    @property
    def version(self) -> str:
        """The package version and a hash of the flow module's source: what a run starts on."""
        return flow_version(self.flow_path)

    @property
    def full_name(self) -> str:
        """The deployment's name as the Prefect API knows it."""
        return f"{self.flow_name}/{DEPLOYMENT_NAME}"

    def load_flow(self) -> Flow[Any, Any]:
        """Import the flow object."""
        module_name, _, attribute = self.flow_path.partition(":")
        flow: Flow[Any, Any] = getattr(importlib.import_module(module_name), attribute)
        return flow

    def build(self, *, with_schedule: bool = True) -> RunnerDeployment:
        """The runner deployment (entrypoint by module path, so any working directory can run it)."""
        from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
        from prefect.deployments.runner import EntrypointType

        limit = (
            ConcurrencyLimitConfig(
                limit=self.concurrency_limit, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
            )
            if self.concurrency_limit
            else None
        )
        deployment = self.load_flow().to_deployment(
            name=DEPLOYMENT_NAME,
            interval=self.interval_seconds if with_schedule and self.interval_seconds else None,
            concurrency_limit=limit,
            entrypoint_type=EntrypointType.MODULE_PATH,
        )
        # Called outside an event loop, `to_deployment` returns the deployment itself.
        return cast("RunnerDeployment", deployment)


def flow_version(flow_path: str) -> str:
    """«0.1.0+3f2a9c1b7e05»: the package version and the first 12 hex digits of the flow module's SHA-256."""
    import hashlib
    import importlib.util
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as package_version

    module_name = flow_path.partition(":")[0]
    found = importlib.util.find_spec(module_name)
    origin = found.origin if found is not None else None
    source = Path(origin).read_bytes() if origin else module_name.encode()
    try:
        package = package_version("aikom-backoffice")
    except PackageNotFoundError:
        package = "0"
    return f"{package}+{hashlib.sha256(source).hexdigest()[:12]}"


SYSTEM_DEPLOYMENTS: tuple[DeploymentSpec, ...] = (
    DeploymentSpec(
        "aikom.flows.reconcile:reconcile",
        "reconcile",
        interval_seconds=RECONCILE_INTERVAL_SECONDS,
        concurrency_limit=1,
    ),
)


def process_deployments(*, demo: bool | None = None) -> tuple[DeploymentSpec, ...]:
    """One deployment per declared process."""
    from aikom.processes import all_specs

    return tuple(DeploymentSpec(spec.flow, spec.type, is_process=True) for spec in all_specs(demo=demo))


def all_deployments(*, demo: bool | None = None) -> tuple[DeploymentSpec, ...]:
    """Every deployment of this installation: the processes (demo ones in demo mode) and the reconciler;
    in demo mode also the bare suspend/resume probe of bench/approval.py."""
    from aikom.settings import get_settings

    demo = get_settings().demo_mode if demo is None else demo
    probes = (DeploymentSpec("aikom.flows.approval:suspend_probe", "suspend-probe"),) if demo else ()
    return process_deployments(demo=demo) + SYSTEM_DEPLOYMENTS + probes


def spec_for(flow_name: str) -> DeploymentSpec:
    """The deployment spec of `flow_name`; ValueError for an unknown flow."""
    for spec in all_deployments():
        if spec.flow_name == flow_name:
            return spec
    raise ValueError(f"no deployment serves flow {flow_name!r}")


def deployment_for(flow_name: str) -> str:
    """The deployment name that runs `flow_name` ("<flow-name>/aikom")."""
    return f"{flow_name}/{DEPLOYMENT_NAME}"


def __getattr__(name: str) -> object:
    """`DEPLOYMENTS`: the deployments of this installation, as `all_deployments()` gives them."""
    if name == "DEPLOYMENTS":
        return all_deployments()
    raise AttributeError(name)
