"""The local stack started by `aikom up` (see `components`), its record (`state`) and `aikom status`."""

from aikom.stack.components import (
    Component,
    PortTaken,
    Stack,
    check_ports_free,
    dashboard_url,
    http_ok,
    port_open,
    prepare,
    run_until_interrupted,
    start_services,
)
from aikom.stack.state import StackState
from aikom.stack.status import status

__all__ = [
    "Component",
    "PortTaken",
    "Stack",
    "StackState",
    "check_ports_free",
    "dashboard_url",
    "http_ok",
    "port_open",
    "prepare",
    "run_until_interrupted",
    "start_services",
    "status",
]
