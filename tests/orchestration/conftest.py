"""The engine tests of this folder reuse the flow tests' fixtures: a real Prefect server on PostgreSQL
and a real runner (an instance of this folder's own: these tests kill processes on purpose), the demo
world and its processes."""

from __future__ import annotations

from tests.flows.conftest import (  # noqa: F401 — fixtures, found by name
    api_url,
    engine_settings,
    prefect_database,
    process_engine,
    start_demo,
    world,
)
