"""Engine probes: flows that measure and exercise the engine itself, served with `--with-probes`.

Not business processes; the benchmark (`bench/approval.py`) and the engine tests use them.
"""

from __future__ import annotations

from prefect import flow

from aikom.deployments import DeploymentSpec


@flow(name="start-probe", persist_result=False)
def start_probe(n: int = 0) -> int:
    """A run that does nothing: what starting and finishing one flow run costs."""
    return n


PROBE_DEPLOYMENTS: tuple[DeploymentSpec, ...] = (
    DeploymentSpec("aikom.orchestration.probes:start_probe", "start-probe"),
)
