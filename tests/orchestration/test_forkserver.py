"""The preloaded forkserver on its own: processes forked from it, its restarts, its shutdown.

A small module written for each test stands in for the flow modules: it records every import, so a
test sees whether a process found it preloaded; its functions are what the forked processes run.
"""

from __future__ import annotations

import importlib
import os
import signal
import sys
import textwrap
import time
import types
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest

from aikom.orchestration.forkserver import ORPHAN_EXIT_CODE, FlowForkServer, preload_modules

MODULE = textwrap.dedent(
    """
    import os, sys, time
    from pathlib import Path

    VALUE = {value!r}
    with open({imports!r}, "a") as log:
        log.write(f"{{os.getpid()}}\\n")

    def write_value(path):
        Path(path).write_text(VALUE)

    def sleep_and_write(seconds, path):
        time.sleep(seconds)
        Path(path).write_text(VALUE)

    def exit_with(code):
        sys.exit(code)

    def report_modules(path, names):
        Path(path).write_text(",".join(name for name in names if name in sys.modules))

    def report_ssl_sharing(path, cafile):
        import ssl
        from aikom.orchestration.flow_process import share_prefect_ssl_contexts
        share_prefect_ssl_contexts()
        seen = {{}}
        for caller in ("prefect.client.orchestration", "aikom.mail.delivery"):
            scope = {{"__name__": caller, "ssl": ssl, "cafile": cafile}}
            exec("first = ssl.create_default_context(cafile=cafile)", scope)
            exec("second = ssl.create_default_context(cafile=cafile)", scope)
            seen[caller] = "shared" if scope["first"] is scope["second"] else "own"
        Path(path).write_text(",".join(seen.values()))
    """
)


@dataclass
class Probe:
    """The stand-in flow module of one test."""

    name: str
    path: Path
    imports: Path
    tmp: Path

    def write(self, value: str) -> None:
        self.path.write_text(MODULE.format(value=value, imports=str(self.imports)))

    def target(self, function: str) -> object:
        return getattr(importlib.import_module(self.name), function)

    def importers(self) -> list[int]:
        return [int(line) for line in self.imports.read_text().split()] if self.imports.exists() else []


@pytest.fixture
def probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Probe]:
    name = f"aikom_fork_probe_{uuid.uuid4().hex[:8]}"
    probe = Probe(name=name, path=tmp_path / f"{name}.py", imports=tmp_path / "imports.log", tmp=tmp_path)
    probe.write("v1")
    # The forkserver is a fresh interpreter: it finds modules on its own path, as installed code is.
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    sys.path.insert(0, str(tmp_path))
    yield probe
    sys.path.remove(str(tmp_path))
    sys.modules.pop(name, None)


@pytest.fixture
def forkserver(probe: Probe) -> Iterator[FlowForkServer]:
    server = FlowForkServer(modules=[probe.name])
    server.ensure_version("v1", [probe.name], wait=True)
    yield server
    server.stop()


def _wait_for(condition: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_processes_find_their_modules_imported_once_by_the_forkserver(
    forkserver: FlowForkServer, probe: Probe
) -> None:
    for n in range(3):
        out = probe.tmp / f"out{n}"
        process = forkserver.start_process(probe.target("write_value"), (str(out),), label=f"probe {n}")
        assert forkserver.wait(process) == 0
        assert out.read_text() == "v1"
    # Imported by the forkserver (and by this test process), never again by the forked processes.
    assert forkserver.pid in probe.importers()
    assert len(probe.importers()) == 2


def test_a_process_s_exit_code_and_death_by_signal_reach_the_starter(
    forkserver: FlowForkServer, probe: Probe
) -> None:
    assert forkserver.wait(forkserver.start_process(probe.target("exit_with"), (3,), label="exit 3")) == 3
    sleeper = forkserver.start_process(
        probe.target("sleep_and_write"), (30, str(probe.tmp / "never")), label="killed"
    )
    os.kill(sleeper.pid, signal.SIGKILL)
    assert forkserver.wait(sleeper) == -signal.SIGKILL


def test_a_dead_forkserver_is_replaced_and_the_next_process_starts(
    forkserver: FlowForkServer, probe: Probe
) -> None:
    dead = forkserver.pid
    assert dead is not None
    os.kill(dead, signal.SIGKILL)
    _wait_for(lambda: psutil.Process(dead).status() == psutil.STATUS_ZOMBIE)

    forkserver.check()

    assert forkserver.pid not in (None, dead)
    out = probe.tmp / "after"
    assert (
        forkserver.wait(forkserver.start_process(probe.target("write_value"), (str(out),), label="after"))
        == 0
    )
    assert out.read_text() == "v1"
    assert not psutil.pid_exists(dead) or psutil.Process(dead).status() == psutil.STATUS_ZOMBIE


def test_a_process_is_even_started_when_the_forkserver_died_unnoticed(
    forkserver: FlowForkServer, probe: Probe
) -> None:
    dead = forkserver.pid
    assert dead is not None
    os.kill(dead, signal.SIGKILL)
    _wait_for(lambda: psutil.Process(dead).status() == psutil.STATUS_ZOMBIE)

    out = probe.tmp / "unnoticed"
    process = forkserver.start_process(probe.target("write_value"), (str(out),), label="unnoticed")

    assert forkserver.wait(process) == 0
    assert out.read_text() == "v1"


def test_new_code_restarts_the_forkserver_while_running_processes_finish_on_the_old_code(
    forkserver: FlowForkServer, probe: Probe
) -> None:
    old_server = forkserver.pid
    old_out, new_out = probe.tmp / "old", probe.tmp / "new"
    running = forkserver.start_process(probe.target("sleep_and_write"), (1.5, str(old_out)), label="old run")

    probe.write("version-2")
    assert forkserver.ensure_version("version-2", [probe.name], wait=True)

    assert forkserver.pid not in (None, old_server)
    fresh = forkserver.start_process(probe.target("write_value"), (str(new_out),), label="new run")
    assert forkserver.wait(fresh) == 0
    assert new_out.read_text() == "version-2"
    assert forkserver.wait(running) == 0
    assert old_out.read_text() == "v1"
    # The old forkserver leaves once its last process has exited.
    _wait_for(lambda: (forkserver.check(), old_server not in forkserver.infrastructure_pids())[1])
    assert not psutil.pid_exists(old_server or 0)


def test_a_process_that_outlives_its_forkserver_is_waited_for(
    forkserver: FlowForkServer, probe: Probe
) -> None:
    out = probe.tmp / "outlived"
    running = forkserver.start_process(probe.target("sleep_and_write"), (1.0, str(out)), label="outliving")
    os.kill(forkserver.pid or 0, signal.SIGKILL)

    code = forkserver.wait(running)

    assert out.read_text() == "v1"  # it had finished its work when the wait ended
    assert code == ORPHAN_EXIT_CODE
    assert not running.is_alive()


def test_stop_lets_running_processes_finish_then_stops_the_forkserver(
    forkserver: FlowForkServer, probe: Probe
) -> None:
    server = forkserver.pid
    out = probe.tmp / "finished"
    forkserver.start_process(probe.target("sleep_and_write"), (0.5, str(out)), label="finishing")

    forkserver.stop()

    assert out.read_text() == "v1"
    assert forkserver.pid is None
    assert not psutil.pid_exists(server or 0)


def test_the_real_preload_holds_no_socket_no_thread_and_nothing_heavy(probe: Probe) -> None:
    from aikom.orchestration.runner import served_specs

    modules = preload_modules(spec.flow_path for spec in served_specs(with_probes=True))
    server = FlowForkServer(modules=[*modules, probe.name])
    server.ensure_version("real", [*modules, probe.name], wait=True)
    try:
        assert server.pid is not None
        process = psutil.Process(server.pid)
        assert process.num_threads() == 1  # forking a process with threads can deadlock its children
        assert process.net_connections(kind="inet") == []  # no database or API connection to share
        out = probe.tmp / "modules"
        heavy = ["streamlit", "pandas", "aikom.dashboard"]
        check = server.start_process(
            probe.target("report_modules"), (str(out), [*heavy, *modules]), label="check"
        )
        assert server.wait(check) == 0
        present = out.read_text().split(",")
        assert not set(heavy) & set(present)
        assert set(modules) <= set(present)
    finally:
        server.stop()


def test_a_flow_process_builds_prefect_one_ssl_context_and_everyone_else_their_own(
    forkserver: FlowForkServer, probe: Probe
) -> None:
    import certifi

    out = probe.tmp / "ssl"
    check = forkserver.start_process(
        probe.target("report_ssl_sharing"), (str(out), certifi.where()), label="ssl"
    )
    assert forkserver.wait(check) == 0
    assert out.read_text() == "shared,own"


def test_a_forked_process_does_not_run_the_parent_s_main_script_again(
    forkserver: FlowForkServer, probe: Probe, monkeypatch: pytest.MonkeyPatch
) -> None:
    """multiprocessing would re-run the starting program's `__main__` in every child (a dashboard
    script a test session ran, say); a flow process runs only its flow."""
    marker = probe.tmp / "main-ran"
    script = probe.tmp / "some_main.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    main = types.ModuleType("__main__")
    main.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", main)

    out = probe.tmp / "out"
    assert forkserver.wait(forkserver.start_process(probe.target("write_value"), (str(out),), label="p")) == 0

    assert out.read_text() == "v1"
    assert not marker.exists()
