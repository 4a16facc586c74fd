"""Every business process, declared once (see `registry`). To add one: its flow module, its services,
its declaration module with a `SPEC`, and ONE line in `PROCESS_MODULES`."""

from __future__ import annotations

import importlib
from functools import lru_cache

from aikom.processes.registry import ProcessNotStartable, ProcessSpec, StepScreen, UnknownProcessType, load

PROCESS_MODULES: tuple[str, ...] = (
    "aikom.processes.director_replacement",
    "aikom.processes.cascade_provisioning",
    "aikom.processes.deputy",
    "aikom.processes.rollout",
    "aikom.processes.account_deactivation",
    "aikom.processes.liquidated_deactivation",
    "aikom.processes.branch",
    "aikom.processes.new_school",
    "aikom.processes.ois_access",
    "aikom.processes.ois_revocation",
    "aikom.processes.key_regeneration",
    "aikom.processes.ois_connection",
)
# Processes that exist only to try the system out; served and offered in demo mode only.
DEMO_PROCESS_MODULES: tuple[str, ...] = ("aikom.demo.processes",)


@lru_cache
def _declared(modules: tuple[str, ...]) -> tuple[ProcessSpec, ...]:
    specs: list[ProcessSpec] = []
    for name in modules:
        spec = importlib.import_module(name).SPEC
        if not isinstance(spec, ProcessSpec):
            raise TypeError(f"{name}.SPEC is not a ProcessSpec")
        specs.append(spec)
    types = [s.type for s in specs]
    if len(set(types)) != len(types):
        raise ValueError(f"a process type is declared twice: {types}")
    return tuple(specs)


def all_specs(*, demo: bool | None = None) -> tuple[ProcessSpec, ...]:
    """Every declared process (with the demo ones when demo mode is on, or `demo` says so)."""
    if demo is None:
        from aikom.settings import get_settings

        demo = get_settings().demo_mode
    return _declared(PROCESS_MODULES + (DEMO_PROCESS_MODULES if demo else ()))


def get_spec(process_type: str, *, demo: bool | None = None) -> ProcessSpec:
    """The declaration of `process_type`; UnknownProcessType otherwise."""
    specs = all_specs(demo=demo)
    for spec in specs:
        if spec.type == process_type:
            return spec
    raise UnknownProcessType(process_type, [s.type for s in specs])


def screen_of(process_type: str, step_key: str) -> StepScreen | None:
    """The screen of its own a step is decided on (None: the generic work queue decides it)."""
    for spec in all_specs(demo=True):
        if spec.type == process_type:
            return spec.screen_for(step_key)
    return None


def title_of(process_type: str) -> str:
    """The Ukrainian title of a process type (the type itself when it is not declared any more)."""
    for spec in all_specs(demo=True):
        if spec.type == process_type:
            return spec.title_uk
    return process_type


__all__ = [
    "DEMO_PROCESS_MODULES",
    "PROCESS_MODULES",
    "ProcessNotStartable",
    "ProcessSpec",
    "StepScreen",
    "UnknownProcessType",
    "all_specs",
    "get_spec",
    "load",
    "screen_of",
    "title_of",
]
