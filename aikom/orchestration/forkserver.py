"""Flow-run processes forked from a preloaded forkserver instead of spawned from nothing.

Importing Prefect, its engine and the flow modules costs seconds of CPU; a process spawned per run
pays it every time. Python's `multiprocessing` forkserver is a small single-threaded server process
started once (it imports the preload list at its start); each flow run is a fresh child forked from
it in milliseconds. The runner itself is never forked (it has threads). A flow run is still a
process of its own: its crash takes nothing else down.

One forkserver per process (multiprocessing keeps it in a module-level object): `flow_forkserver()`.
It is restarted when it dies (`check`) and when the code it preloaded changes (`ensure_version`);
runs already forked from an old one go on undisturbed, the old server exits after its last child.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import multiprocessing
import multiprocessing.context
import multiprocessing.forkserver
import os
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from multiprocessing import popen_forkserver, spawn, util
from multiprocessing.context import reduction, set_spawning_popen  # type: ignore[attr-defined]
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psutil

from aikom.orchestration.flow_process import PRELOAD_INCOMPLETE, check_preloaded, run_flow_process

if TYPE_CHECKING:
    from prefect.client.schemas.objects import FlowRun

log = logging.getLogger(__name__)

# What a flow-run process needs besides its flow module: Prefect's engine and what the engine and
# the tasks import lazily on their first run (found by listing what a forked flow run imported).
PREFECT_PRELOAD: tuple[str, ...] = (
    "prefect",
    "prefect.engine",
    "prefect.flow_engine",
    "prefect.task_engine",
    "prefect.flows",
    "prefect.tasks",
    "prefect.results",
    "prefect.states",
    "prefect.input",
    "prefect.flow_runs",
    "prefect.cache_policies",
    "prefect.client.orchestration",
    "prefect.events.clients",
    "prefect.logging.handlers",
    "prefect._internal.control_listener",
    "prefect._internal.metrics",
    "prefect.filesystems",
    "prefect.serializers",
    "prefect._internal.observers",
    "anyio._backends._asyncio",
    "anyio._core._sockets",
    "anyio.streams.memory",
    "anyio.streams.stapled",
    "anyio.streams.tls",
    "encodings.idna",
    "stringprep",
    "rich._emoji_codes",
    "sqlalchemy.dialects.postgresql.psycopg",
    # The driver that dialect loads on the first connection (it opens none at import).
    "psycopg",
    # The flow engine's (graphviz), and what the business calendar's holidays use.
    "prefect.utilities.visualization",
    "dateutil.easter",
    "aikom.orchestration.flow_process",
    "aikom.orchestration.forkserver",
)
# Imported after everything else (see its docstring).
PRELOAD_LAST = "aikom.orchestration.preload"
WARM_UP_TIMEOUT = 120.0
START_ATTEMPTS = 3
# A retired forkserver whose children have all exited stops by itself; this long at most on shutdown.
STOP_TIMEOUT = 10.0
# The exit code reported for a flow process that outlived its forkserver (its own status is unknown;
# the engine's outcome receipt, when it sent one, still decides the run's state).
ORPHAN_EXIT_CODE = 255
PACKAGE_ROOT = Path(__file__).resolve().parent.parent
NOT_IN_FLOW_PROCESSES = frozenset({"dashboard", "cli", "migrations"})
# Names the file a replacement forkserver writes once its preload is done (see READY_MODULE).
READY_FILE_ENV = "AIKOM_FORKSERVER_READY_FILE"
READY_MODULE = "aikom.orchestration.forkserver_ready"
# multiprocessing's helper processes (`python -c "from multiprocessing.<name> import main; …"`).
_SERVER_MODULES = ("forkserver", "resource_tracker")


def entrypoint_module(entrypoint: str) -> str:
    """The module of a "package.module:function" entrypoint."""
    return entrypoint.partition(":")[0]


def preload_modules(entrypoints: Iterable[str]) -> list[str]:
    """What the forkserver imports at its start: Prefect's engine and the modules of these flows."""
    modules = list(PREFECT_PRELOAD)
    for entrypoint in entrypoints:
        module = entrypoint_module(entrypoint)
        if module not in modules:
            modules.append(module)
    return [*modules, PRELOAD_LAST]


def _sources(root: Path) -> list[Path]:
    """The Python sources a flow-run process may run (not the dashboard, the CLI or migrations)."""
    return sorted(
        path for path in root.rglob("*.py") if path.relative_to(root).parts[0] not in NOT_IN_FLOW_PROCESSES
    )


def code_version(root: Path = PACKAGE_ROOT) -> str:
    """A short hash of the sources flow runs use: what a forkserver preloaded goes stale with."""
    digest = hashlib.sha256()
    for path in _sources(root):
        digest.update(str(path.relative_to(root)).encode())
        with contextlib.suppress(FileNotFoundError):
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def code_signature(root: Path = PACKAGE_ROOT) -> tuple[tuple[str, int, int], ...]:
    """A cheap signature of those sources (names, sizes, mtimes): when it changes, hash them again."""
    entries = []
    for path in _sources(root):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        entries.append((str(path), stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


class _Popen(popen_forkserver.Popen):
    """multiprocessing's forkserver start, without running the parent's `__main__` again in the child.

    multiprocessing re-executes the parent's main module in every child it starts, so that objects
    defined there can be unpickled; whatever that module is (the runner, a test session, a script)
    would then run in every flow process. Flow processes only call functions of importable modules.
    The rest is `popen_forkserver.Popen._launch` as Python 3.11 has it (guarded by
    tests/orchestration/test_prefect_internals.py).
    """

    def _launch(self, process_obj: Any) -> None:
        prep_data = spawn.get_preparation_data(process_obj._name)
        prep_data.pop("init_main_from_name", None)
        prep_data.pop("init_main_from_path", None)
        buf = io.BytesIO()
        set_spawning_popen(self)
        try:
            reduction.dump(prep_data, buf)
            reduction.dump(process_obj, buf)
        finally:
            set_spawning_popen(None)
        self.sentinel, w = multiprocessing.forkserver.connect_to_new_process(self._fds)  # type: ignore[attr-defined]
        parent_w = os.dup(w)  # the child watches it to learn that this process has gone
        self.finalizer = util.Finalize(self, util.close_fds, (parent_w, self.sentinel))  # type: ignore[attr-defined]
        with open(w, "wb", closefd=True) as data:
            data.write(buf.getbuffer())
        self.pid = multiprocessing.forkserver.read_signed(self.sentinel)


class _Process(multiprocessing.context.ForkServerProcess):
    """A process started from the forkserver by `_Popen`."""

    @staticmethod
    def _Popen(process_obj: Any) -> _Popen:
        return _Popen(process_obj)


def _is_alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


class FlowProcess:
    """One flow-run process forked by the forkserver, as Prefect's `ProcessHandle` sees it."""

    def __init__(
        self, process: multiprocessing.process.BaseProcess, label: str, *, server_pid: int | None
    ) -> None:
        self._process = process
        self.label = label
        self.server_pid = server_pid
        self.pid: int = process.pid or 0
        self._returncode: int | None = None
        try:
            self._ps: psutil.Process | None = psutil.Process(self.pid)
        except psutil.NoSuchProcess:
            self._ps = None

    @property
    def returncode(self) -> int | None:
        """Its exit code once `wait` returned (negative: killed by that signal)."""
        return self._returncode

    def is_alive(self) -> bool:
        """Whether it still runs (a zombie does not)."""
        return self._ps is not None and _is_alive(self._ps)

    def wait(self) -> int:
        """Block until it exits; its exit code.

        The forkserver reports the exit code. When the forkserver dies first, the report is lost
        (multiprocessing says 255) while the flow process runs on: wait for the process itself.
        """
        self._process.join()
        code = self._process.exitcode
        if self.is_alive():
            log.warning("%s: its forkserver died; waiting for process %s", self.label, self.pid)
            while self.is_alive():
                time.sleep(0.2)
            code = ORPHAN_EXIT_CODE
        self._returncode = ORPHAN_EXIT_CODE if code is None else code
        return self._returncode


@dataclass
class _Retired:
    """A forkserver out of service: `alive_fd` (its "alive" pipe) is closed once its processes are done."""

    pid: int
    alive_fd: int | None


@dataclass
class FlowForkServer:
    """The preloaded forkserver of this process and the flow processes started from it."""

    modules: list[str] = field(default_factory=lambda: preload_modules(()))
    version: str | None = None
    _retired: dict[int, _Retired] = field(default_factory=dict)
    _running: dict[int, FlowProcess] = field(default_factory=dict)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    def __post_init__(self) -> None:
        self._context = multiprocessing.get_context("forkserver")
        # multiprocessing keeps one forkserver per process in this module-level object.
        self._server: Any = multiprocessing.forkserver._forkserver

    # --- the server --------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The current forkserver's process id (None before it starts)."""
        pid: int | None = self._server._forkserver_pid
        return pid

    def start(self, *, wait: bool = True) -> None:
        """Start the forkserver if it is not running; with `wait`, until it has preloaded everything."""
        with self._lock:
            self._context.set_forkserver_preload(self.modules)
            self._server.ensure_running()
        if wait:
            self.warm_up()
        else:
            threading.Thread(
                target=self._warm_up_quietly, name="aikom-forkserver-warm-up", daemon=True
            ).start()

    def warm_up(self) -> float:
        """Fork one do-nothing child (it waits for the preload); the seconds it took."""
        started = time.monotonic()
        child = _Process(target=check_preloaded, args=(self.modules,), name="aikom-warm-up")
        child.start()
        child.join(WARM_UP_TIMEOUT)
        seconds = time.monotonic() - started
        if child.exitcode == PRELOAD_INCOMPLETE:
            log.warning("forkserver %s started, but some modules were not preloaded (see above)", self.pid)
        elif child.exitcode != 0:
            if self.pid is not None:  # not stopped meanwhile
                log.warning("forkserver %s: warm-up child exited with %s", self.pid, child.exitcode)
        else:
            log.info(
                "forkserver %s ready in %.1f s (%d modules preloaded)", self.pid, seconds, len(self.modules)
            )
        return seconds

    def _warm_up_quietly(self) -> None:
        try:
            self.warm_up()
        except Exception:
            if self.pid is not None:  # not stopped meanwhile
                log.exception("forkserver warm-up failed")

    def ensure_version(
        self, version: str, modules: Sequence[str] | None = None, *, wait: bool = False
    ) -> bool:
        """Preload `modules` of code `version`: replace the forkserver when either changed. Whether it did.

        A replacement preloads beside the running forkserver and takes over once ready, so flow runs
        started meanwhile do not wait for it; the old one exits after its last flow process.
        """
        with self._lock:
            new_modules = list(modules) if modules is not None else self.modules
            if version == self.version and new_modules == self.modules and self.pid is not None:
                return False
            stale = self.pid is not None
            self.version = version
            self.modules = new_modules
        if not stale:
            self.start(wait=wait)
            return False
        log.info("code version %s: preloading a new forkserver", version)
        standby = _launch_ready(new_modules)
        with self._lock:
            if standby is not None:
                self._take_over(standby)
            else:
                self._retire()  # it did not come up: the next start launches one the usual way
        self.start(wait=wait)
        return True

    def _take_over(self, standby: Any) -> None:
        """Make a ready standby forkserver the current one; retire the current one."""
        self._retire()
        server = self._server
        with server._lock:
            server._forkserver_pid = standby._forkserver_pid
            server._forkserver_alive_fd = standby._forkserver_alive_fd
            server._forkserver_address = standby._forkserver_address
        log.info("forkserver %s took over", server._forkserver_pid)

    def check(self) -> None:
        """Restart the forkserver if it died (multiprocessing's own restart); let retired ones go."""
        with self._lock:
            before = self.pid
            if before is not None:
                self._context.set_forkserver_preload(self.modules)
                self._server.ensure_running()
            after = self.pid
            self._let_retired_go()
        if after != before:
            log.warning("the forkserver %s died; started %s", before, after)
            threading.Thread(
                target=self._warm_up_quietly, name="aikom-forkserver-warm-up", daemon=True
            ).start()

    def _retire(self) -> None:
        """Take the current forkserver out of service; it stays up while processes it forked run."""
        server = self._server
        with server._lock:
            pid = server._forkserver_pid
            if pid is None:
                return
            retired = _Retired(pid=pid, alive_fd=server._forkserver_alive_fd)
            address = server._forkserver_address
            server._forkserver_alive_fd = None
            server._forkserver_address = None
            server._forkserver_pid = None
        if isinstance(address, str) and not address.startswith("\0"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(address)
        self._retired[pid] = retired

    def _let_retired_go(self, *, now: bool = False) -> None:
        """Release each retired forkserver whose processes have all exited (all of them with `now`), and
        reap those that have gone.

        Released only then: a forkserver exits as soon as its "alive" pipe closes, and a process exiting
        at that moment would have its exit code lost.
        """
        for pid, retired in list(self._retired.items()):
            if retired.alive_fd is not None and (
                now or not any(p.server_pid == pid and p.is_alive() for p in self._running.values())
            ):
                os.close(retired.alive_fd)
                retired.alive_fd = None
            if retired.alive_fd is None:
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    done = pid
                if done:
                    del self._retired[pid]

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop the forkserver, after its flow processes (it is killed if it outstays `timeout`)."""
        with self._lock:
            self._retire()
            self._let_retired_go(now=True)
            deadline = time.monotonic() + timeout
            while self._retired and time.monotonic() < deadline:
                time.sleep(0.05)
                self._let_retired_go(now=True)
            for pid in list(self._retired):
                log.warning("forkserver %s did not stop in %.0f s; killing it", pid, timeout)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, 0)
                del self._retired[pid]

    # --- flow processes ------------------------------------------------------------------------------

    def start_flow_process(
        self,
        *,
        flow_run: FlowRun,
        entrypoint: str,
        env: Mapping[str, str],
        related: Mapping[str, Any] | None = None,
    ) -> FlowProcess:
        """Fork a process that runs the flow run (its flow from `entrypoint`, with exactly `env`;
        `related`: the objects its events name, see `starter.RelatedObjects`)."""
        process = self.start_process(
            run_flow_process,
            (flow_run, entrypoint, dict(env), dict(related or {})),
            label=f"flow run {flow_run.id}",
        )
        log.info("flow run %s started in process %s", flow_run.id, process.pid)
        return process

    def start_process(
        self, target: Callable[..., object], args: tuple[Any, ...], *, label: str
    ) -> FlowProcess:
        """Fork a process from the forkserver that calls `target(*args)` (importable by module path)."""
        for attempt in range(1, START_ATTEMPTS + 1):
            with self._lock:
                self._context.set_forkserver_preload(self.modules)
            process = _Process(target=target, args=args, name=label)
            try:
                process.start()
            except (OSError, EOFError) as exc:
                # The forkserver died between two requests: start another and try again.
                if attempt == START_ATTEMPTS:
                    raise
                log.warning("%s: the forkserver did not answer (%r); restarting it", label, exc)
                self.check()
                continue
            started = FlowProcess(process, label, server_pid=self.pid)
            with self._lock:
                self._running[started.pid] = started
            return started
        raise AssertionError("unreachable")

    def wait(self, flow_process: FlowProcess) -> int:
        """Block until the flow process exits; its exit code."""
        try:
            return flow_process.wait()
        finally:
            with self._lock:
                self._running.pop(flow_process.pid, None)
                self._let_retired_go()

    def flow_pids(self) -> set[int]:
        """Process ids of the flow processes started here that still run."""
        with self._lock:
            return {pid for pid, process in self._running.items() if process.is_alive()}

    def infrastructure_pids(self) -> set[int]:
        """The forkservers (current and retired) and multiprocessing's resource tracker: not flow work."""
        pids = set(self._retired)
        if self.pid is not None:
            pids.add(self.pid)
        for child in psutil.Process().children(recursive=False):
            try:
                command = " ".join(child.cmdline())
            except psutil.Error:
                continue
            if any(f"multiprocessing.{name} import main" in command for name in _SERVER_MODULES):
                pids.add(child.pid)
        return pids


_FORKSERVER: FlowForkServer | None = None
_FORKSERVER_LOCK = threading.Lock()
_ENVIRON_LOCK = threading.Lock()


def _launch_ready(modules: Sequence[str]) -> Any | None:
    """A second forkserver (multiprocessing's own class), launched and waited for until it has
    preloaded `modules`; None if it did not get there."""
    standby: Any = multiprocessing.forkserver.ForkServer()
    standby.set_forkserver_preload([*modules, READY_MODULE])
    with tempfile.TemporaryDirectory(prefix="aikom-forkserver-") as folder:
        ready = Path(folder) / "ready"
        # The forkserver inherits this process's environment; READY_MODULE, imported last, writes the
        # file named here.
        with _ENVIRON_LOCK:
            os.environ[READY_FILE_ENV] = str(ready)
            try:
                standby.ensure_running()
            finally:
                os.environ.pop(READY_FILE_ENV, None)
        deadline = time.monotonic() + WARM_UP_TIMEOUT
        while not ready.exists():
            exited, _ = os.waitpid(standby._forkserver_pid, os.WNOHANG)
            if exited or time.monotonic() > deadline:
                log.warning("a new forkserver did not finish preloading; starting one the usual way")
                if not exited:
                    os.kill(standby._forkserver_pid, signal.SIGKILL)
                    os.waitpid(standby._forkserver_pid, 0)
                os.close(standby._forkserver_alive_fd)
                with contextlib.suppress(FileNotFoundError, TypeError):
                    os.unlink(standby._forkserver_address)
                return None
            time.sleep(0.05)
    return standby


def flow_forkserver() -> FlowForkServer:
    """The forkserver of this process (created on first use, started by `start`)."""
    global _FORKSERVER
    with _FORKSERVER_LOCK:
        if _FORKSERVER is None:
            _FORKSERVER = FlowForkServer()
        return _FORKSERVER


def flow_processes(forkserver: FlowForkServer | None) -> list[psutil.Process]:
    """Every flow process of this runner or worker that still runs: its descendants (flow runs and
    what they started) except the forkserver machinery, plus flow processes a dead forkserver left."""
    me = psutil.Process()
    infrastructure = forkserver.infrastructure_pids() if forkserver is not None else set()
    found: dict[int, psutil.Process] = {}
    for child in me.children(recursive=True):
        if child.pid not in infrastructure and _is_alive(child):
            found[child.pid] = child
    if forkserver is not None:
        for pid in forkserver.flow_pids() - found.keys():
            try:
                found[pid] = psutil.Process(pid)
            except psutil.NoSuchProcess:
                continue
    return list(found.values())
