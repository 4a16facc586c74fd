"""Every deployment the runner serves: one per process flow, plus the scheduled reconciler.

A process flow takes one parameter, `process_id`; its deployment is "<flow-name>/aikom". To add a
process, add its flow here — nothing else needs to know the list.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, cast

from aikom.models.process import ProcessType

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
    # The `process.type` a run of this flow records (None: not a business process).
    process_type: ProcessType | None = None

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


DEPLOYMENTS: tuple[DeploymentSpec, ...] = (
    # The demo records itself as a support request until ProcessType has a member of its own.
    DeploymentSpec(
        "aikom.flows.demo_approval:demo_approval", "demo-approval", process_type=ProcessType.SUPPORT_REQUEST
    ),
    DeploymentSpec(
        "aikom.flows.director_replacement:director_replacement",
        "director-replacement",
        process_type=ProcessType.DIRECTOR_REPLACEMENT,
    ),
    DeploymentSpec(
        "aikom.flows.reconcile:reconcile",
        "reconcile",
        interval_seconds=RECONCILE_INTERVAL_SECONDS,
        concurrency_limit=1,
    ),
    # The bare suspend/resume baseline of bench/approval.py and the engine smoke test.
    DeploymentSpec("aikom.flows.approval:suspend_probe", "suspend-probe"),
)


def spec_for(flow_name: str) -> DeploymentSpec:
    """The deployment spec of `flow_name`; ValueError for an unknown flow."""
    for spec in DEPLOYMENTS:
        if spec.flow_name == flow_name:
            return spec
    raise ValueError(f"no deployment serves flow {flow_name!r}")


def deployment_for(flow_name: str) -> str:
    """The deployment name that runs `flow_name`; ValueError for an unknown flow."""
    return spec_for(flow_name).full_name


def process_flows() -> list[str]:
    """Names of the flows that run business processes."""
    return [spec.flow_name for spec in DEPLOYMENTS if spec.process_type is not None]
