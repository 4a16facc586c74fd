"""Loud failures when a Prefect (or Python) upgrade moves an internal the fast start relies on.

The forkserver starter plugs into Prefect 3.8.8's runner where its own starters plug in, and its child
does what Prefect's `run_flow_in_subprocess` child does. Each test names what moved; read
aikom/orchestration/starter.py, flow_process.py and forkserver.py before adapting them.
"""

from __future__ import annotations

import inspect
import multiprocessing.forkserver
from importlib.metadata import version
from pathlib import Path

import prefect


def _parameters(function: object) -> list[str]:
    return list(inspect.signature(function).parameters)  # type: ignore[arg-type]


def test_prefect_is_the_pinned_version() -> None:
    assert prefect.__version__ == "3.8.8" == version("prefect"), (
        "Prefect changed: re-check every internal below, then pin the new version in pyproject.toml"
    )


def test_the_runner_builds_its_poller_with_a_starter_resolver() -> None:
    from prefect.runner import Runner
    from prefect.runner._scheduled_run_poller import ScheduledRunPoller

    assert "resolve_starter" in _parameters(ScheduledRunPoller.__init__)
    init = inspect.getsource(ScheduledRunPoller.__init__)
    assert "self._resolve_starter = resolve_starter" in init
    submit = inspect.getsource(ScheduledRunPoller._submit_run)
    assert "starter = self._resolve_starter(flow_run)" in submit
    assert "self.stopping" in inspect.getsource(ScheduledRunPoller._get_and_submit_flow_runs)
    assert _parameters(ScheduledRunPoller.run) == ["self"]
    # The fast runner runs this same poll (with back-off) when there is no storage to pull.
    run = inspect.getsource(ScheduledRunPoller.run)
    assert "workload=self._get_and_submit_flow_runs" in run and "interval=self._query_seconds" in run
    assert "for storage in self._storage_objs" in run

    enter = inspect.getsource(Runner.__aenter__)
    assert "self._scheduled_run_poller = ScheduledRunPoller(" in enter
    assert "resolve_starter=_resolve_starter" in enter
    assert "self._scheduled_run_poller.run" in inspect.getsource(Runner.start)
    runner_init = inspect.getsource(Runner.__init__)
    assert "self._control_channel: ControlChannel = ControlChannel()" in runner_init
    assert "self._heartbeat_seconds = heartbeat_seconds" in runner_init
    assert "self._storage_objs: list[RunnerStorage] = []" in runner_init


def test_a_starter_is_what_the_executor_expects() -> None:
    from prefect.runner._flow_run_executor import FlowRunExecutor, FlowRunExecutorContext, ProcessStarter
    from prefect.runner._process_manager import ProcessHandle

    assert _parameters(ProcessStarter.start) == ["self", "flow_run", "task_status"]
    # The handle reads `pid` and `returncode` (else `exitcode`) of whatever process object it holds.
    source = inspect.getsource(ProcessHandle)
    assert "self._process.pid" in source and 'hasattr(self._process, "returncode")' in source
    # A non-zero exit without an engine receipt is proposed Crashed.
    submit = inspect.getsource(FlowRunExecutor.submit)
    assert "exit_code != 0" in submit and "propose_crashed" in submit
    create = _parameters(FlowRunExecutorContext.create_executor)
    assert create[:6] == ["self", "flow_run", "starter", "resolve_flow", "propose_submitting", "hook_runner"]
    assert "self.control_channel = ControlChannel()" in inspect.getsource(FlowRunExecutorContext.__aenter__)


def test_the_child_does_what_run_flow_in_subprocess_does() -> None:
    from prefect import flow_engine
    from prefect._internal import control_listener
    from prefect.context import refresh_global_settings_context
    from prefect.engine import handle_engine_signals

    from aikom.orchestration.flow_process import CONTROL_ENV_KEYS

    assert flow_engine._CONTROL_CHANNEL_ENV_KEYS == CONTROL_ENV_KEYS
    spawned = inspect.getsource(flow_engine.run_flow_in_subprocess)
    assert 'multiprocessing.get_context("spawn")' in spawned
    assert '"PREFECT__ENABLE_CANCELLATION_AND_CRASHED_HOOKS": "false"' in spawned
    assert 'handle_engine_signals(getattr(flow_run, "id", None))' in spawned
    assert "configure_from_env()" in inspect.getsource(
        flow_engine._run_serialized_call_with_control_bootstrap
    )
    assert 'os.environ.pop("PREFECT__CONTROL_PORT", None)' in inspect.getsource(
        control_listener.configure_from_env
    )
    assert _parameters(handle_engine_signals) == ["flow_run_id"]
    assert _parameters(flow_engine.run_flow)[:2] == ["flow", "flow_run"]
    assert _parameters(refresh_global_settings_context) == []


def test_a_resumed_run_is_announced_as_resuming() -> None:
    from prefect.server.api import flow_runs

    from aikom.orchestration.starter import RESUMING_EVENT

    assert 'name="Resuming"' in inspect.getsource(flow_runs.resume_flow_run)
    assert RESUMING_EVENT == "prefect.flow-run.Resuming"


def test_the_process_worker_runs_a_flow_run_where_the_fast_worker_hooks_in() -> None:
    from prefect.workers.base import BaseWorker
    from prefect.workers.process import ProcessWorker

    assert _parameters(ProcessWorker.run) == ["self", "flow_run", "configuration", "task_status"]
    assert "FlowRunExecutorContext()" in inspect.getsource(ProcessWorker.run)
    assert "await self.run(" in inspect.getsource(BaseWorker._submit_run_and_capture_errors)
    assert "workload=self.get_and_submit_flow_runs" in inspect.getsource(BaseWorker.start)
    assert "await self.setup()" in inspect.getsource(BaseWorker.__aenter__)
    assert "await self.teardown(" in inspect.getsource(BaseWorker.__aexit__)


def test_multiprocessing_forkserver_keeps_what_the_restart_uses() -> None:
    from multiprocessing import popen_forkserver

    server = multiprocessing.forkserver._forkserver  # type: ignore[attr-defined]
    for attribute in ("_lock", "_forkserver_pid", "_forkserver_alive_fd", "_forkserver_address"):
        assert hasattr(server, attribute), attribute
    ensure = inspect.getsource(type(server).ensure_running)
    assert "os.waitpid(self._forkserver_pid, os.WNOHANG)" in ensure and "# dead, launch it again" in ensure
    # A flow process's exit code comes through the forkserver; 255 when the forkserver died first.
    assert "self.returncode = 255" in inspect.getsource(popen_forkserver.Popen.poll)
    # The forkserver exits once every holder of the "alive" pipe (its children too) has closed it.
    assert "raise SystemExit" in inspect.getsource(multiprocessing.forkserver.main)
    # `forkserver._Popen._launch` is this method, less the re-run of `__main__` in the child.
    launch = [line.strip() for line in inspect.getsource(popen_forkserver.Popen._launch).splitlines()]
    assert [line for line in launch if line and not line.startswith("#")] == [
        "def _launch(self, process_obj):",
        "prep_data = spawn.get_preparation_data(process_obj._name)",
        "buf = io.BytesIO()",
        "set_spawning_popen(self)",
        "try:",
        "reduction.dump(prep_data, buf)",
        "reduction.dump(process_obj, buf)",
        "finally:",
        "set_spawning_popen(None)",
        "self.sentinel, w = forkserver.connect_to_new_process(self._fds)",
        "_parent_w = os.dup(w)",
        "self.finalizer = util.Finalize(self, util.close_fds,",
        "(_parent_w, self.sentinel))",
        "with open(w, 'wb', closefd=True) as f:",
        "f.write(buf.getbuffer())",
        "self.pid = forkserver.read_signed(self.sentinel)",
    ]


def test_prefect_never_changes_a_verified_ssl_context_it_builds() -> None:
    """Flow processes give Prefect one shared context per CA bundle: each place Prefect builds one with a
    CA file must only hand it on (`flow_process.share_prefect_ssl_contexts`)."""
    root = Path(prefect.__file__).parent
    found: dict[str, list[str]] = {}
    for path in root.rglob("*.py"):
        relative = str(path.relative_to(root))
        if relative.startswith(("server/", "testing/")):
            continue
        lines = path.read_text().splitlines()
        for number, line in enumerate(lines):
            if "ssl.create_default_context(cafile=" in line:
                found.setdefault(relative, []).append(
                    lines[number + 1].strip() if "return" not in line else "return"
                )
    assert found == {
        "client/orchestration/__init__.py": ['httpx_settings.setdefault("verify", ctx)'] * 2,
        "_internal/websockets.py": ["return"],
        "_internal/version_checking.py": ['httpx_kwargs["verify"] = ctx'],
    }


def test_the_events_worker_reads_a_run_s_flow_and_deployment_through_the_cache_a_runner_fills() -> None:
    """A forked flow process is handed its flow and deployment in the form Prefect caches them
    (`flow_process.seed_related_resources`), so that its events worker does not read them again."""
    from prefect.events import related
    from prefect.events.worker import EventsWorker

    assert isinstance(related.RESOURCE_CACHE, dict)
    cache = inspect.getsource(related._get_and_cache_related_object)
    assert 'cache_key = f"{kind}.{obj_id}"' in cache
    assert "if cache_key in cache:" in cache and "entry, _ = cache[cache_key]" in cache
    assert '"object": obj_,' in cache
    run_context = inspect.getsource(related.related_resources_from_run_context)
    for kind in ("flow", "deployment"):
        assert f'kind="{kind}"' in run_context and "cache=RESOURCE_CACHE" in run_context
    assert "related_resources_from_run_context(" in inspect.getsource(
        EventsWorker.attach_related_resources_from_context
    )
