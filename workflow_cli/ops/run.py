"""``start``, ``run``, ``resume``, ``retry``: drive an instance with the local runner."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from workflow_cli.errors import ConflictError, NotFoundError
from workflow_cli.model.states import EXIT_CODE_BY_STATE, InstanceState
from workflow_cli.monitor.summary import status_document
from workflow_cli.ops.executors import ExecutorSession, open_executor
from workflow_cli.ops.query import instance_paths
from workflow_cli.store.home import Home
from workflow_cli.store.instances import InstancePaths, load_state, read_document
from workflow_cli.store.locks import is_locked


@dataclass
class RunResult:
    """The final status document of a run and the exit code it maps to (SPEC 8)."""

    status: dict[str, Any]
    exit_code: int
    detached: bool = False


def exit_code_for(state: Mapping[str, Any]) -> int:
    """0 completed, 1 failed, 3 waiting, 6 paused, 7 cancelled, 8 deadline expired."""
    if state["status"] == "failed" and state.get("error_kind") == "deadline":
        return 8
    return EXIT_CODE_BY_STATE.get(InstanceState(state["status"]), 1)


def _result(paths: InstancePaths, state: dict[str, Any]) -> RunResult:
    from workflow_cli.store.state import add_task_extras

    doc = add_task_extras(status_document(state, runner_alive=False), state)
    return RunResult(doc, exit_code_for(state))


def _options(**kwargs: Any) -> Any:
    from workflow_cli.engine.runner import RunOptions

    return RunOptions(**{k: v for k, v in kwargs.items() if v is not None})


class HomeChildWorkflows:
    """Child instances for ``workflow_trigger`` (:class:`~workflow_cli.actions.base.ChildWorkflows`), made by ops."""

    def __init__(self, home: Home) -> None:
        self.home = home

    def create(self, source: str, *, params: Mapping[str, Any], name: str | None, parent: Mapping[str, Any],
               workdir: str | None = None) -> str:
        """Create the child instance; its id."""
        from workflow_cli.ops.create import create_instance

        return create_instance(self.home, source, overrides=dict(params), name=name, parent=parent, workdir=workdir).id

    def run(self, instance_id: str) -> None:
        """Run the child in this thread until it stops moving."""
        drive(self.home, InstancePaths(self.home.instances / instance_id))

    def start_background(self, instance_id: str) -> None:
        """Start the child's runner in a background process."""
        detach(self.home, InstancePaths(self.home.instances / instance_id), "start")


def drive(home: Home, paths: InstancePaths, *, max_parallel: int | None = None, sink: Callable[[dict[str, Any]], None] | None = None,
          wait_threshold: float | None = None, reopen: bool = False, reset: Sequence[tuple[str, bool]] = (),
          apply_only: bool = False, no_cache: bool = False, executor: str | None = None, scheduler_address: str | None = None,
          session: ExecutorSession | None = None) -> RunResult:
    """Run the instance in this process until it stops moving (``apply_only``: only take in requests).

    ``reset``: (task, full) pairs put back to pending before the run goes on (``retry``);
    ``no_cache``: do not reuse cached task results (successful results are still stored);
    ``executor``/``scheduler_address``: where attempts run (default: ``config.yaml``, else local), or an
    already connected ``session`` (connected before the instance was even created).
    """
    from workflow_cli.engine.runner import Runner
    from workflow_cli.ops.python_source import add_source_folder

    own = session is None and not apply_only
    if own:
        session = open_executor(home, executor, scheduler_address)  # exit 5 before anything is recorded
    add_source_folder(paths.header)  # an instance made from FILE.py:NAME: its python tasks import modules beside it
    options = _options(max_parallel=max_parallel, sink=sink, wait_threshold=wait_threshold, reopen=reopen,
                       reset_tasks=tuple(reset) or None, apply_only=apply_only or None, no_cache=no_cache or None,
                       child_workflows=HomeChildWorkflows(home))
    try:
        factory = session.factory() if session is not None else None
        outcome = Runner(home, paths, options=options, executor_factory=factory).run()
    finally:
        if own and session is not None:
            session.close()
    return _result(paths, outcome.state)


def detach(home: Home, paths: InstancePaths, verb: str, extra: Sequence[str] = (), *, no_cache: bool = False) -> RunResult:
    """Run ``workflow-cli <verb> ID`` in a background process with its own log; return at once."""
    from workflow_cli.store.instances import read_secrets

    read_secrets(paths)  # a key that cannot open the secrets is reported here, not in the runner's log
    log = open(paths.root / "runner.log", "ab")  # noqa: SIM115 - handed to the child
    cmd = [sys.executable, "-m", "workflow_cli", "--home", str(home.root), "--quiet", verb, paths.id, *extra,
           *(["--no-cache"] if no_cache else [])]
    child = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                             close_fds=True, env={**os.environ, "WORKFLOW_CLI_DETACHED": "1"})
    log.close()
    _until_runner_holds(paths, child)
    state = load_state(paths)
    doc = status_document(state, runner_alive=True)
    doc["detached"] = True
    doc["runner_log"] = str(paths.root / "runner.log")
    return RunResult(doc, 0, detached=True)


def _until_runner_holds(paths: InstancePaths, child: subprocess.Popen, timeout: float = 10.0) -> None:
    """Wait until the background runner holds the instance (or has exited): a ``logs --follow``, ``monitor`` or
    ``stop`` right after ``--detach`` then sees a live runner instead of an instance nobody drives yet."""
    import time

    deadline = time.monotonic() + timeout
    while child.poll() is None and not is_locked(paths.lock) and time.monotonic() < deadline:
        time.sleep(0.01)


def _detach_flags(kw: Mapping[str, Any]) -> list[str]:
    """The options a background runner needs to behave like this foreground one."""
    flags: list[str] = []
    if kw.get("max_parallel"):
        flags += ["--max-parallel", str(kw["max_parallel"])]
    if kw.get("wait_threshold") is not None:
        flags += ["--wait-threshold", str(kw["wait_threshold"])]
    if kw.get("grace") is not None:
        flags += ["--grace", str(kw["grace"])]
    return flags


def _detach_executor(home: Home, kw: Mapping[str, Any]) -> list[str]:
    """Check the run's executor is reachable now (exit 5 here, not in the background); the flags that choose it."""
    session = kw.get("session")
    own = session is None
    if own:
        session = open_executor(home, kw.get("executor"), kw.get("scheduler_address"))
    if session is None:
        return ["--executor", "local"] if kw.get("executor") == "local" else []
    flags = session.flags()
    if own:
        session.close()
    return flags


def _refuse_if_live(paths: InstancePaths, verb: str) -> None:
    if is_locked(paths.lock):
        raise ConflictError(f"instance {paths.id} is held by a live runner; '{verb}' does not apply now")


def start(home: Home, instance: str, *, detach_run: bool = False, **kw: Any) -> RunResult:
    """Run a created (or paused) instance."""
    paths = instance_paths(home, instance)
    _refuse_if_live(paths, "start")
    state = load_state(paths)
    if state["status"] in ("running", "waiting"):
        raise ConflictError(f"instance {paths.id} is {state['status']}; use 'workflow-cli resume {paths.id}'")
    if state["status"] not in ("created", "paused", "queued"):  # a queued one starts now, ahead of the queue
        raise ConflictError(f"instance {paths.id} is {state['status']}: there is nothing to start; {_rerun_hint(paths, state)}")
    if detach_run:
        return detach(home, paths, "start", _detach_flags(kw) + _detach_executor(home, kw), no_cache=bool(kw.get("no_cache")))
    return drive(home, paths, **kw)


def resume(home: Home, instance: str, *, detach_run: bool = False, **kw: Any) -> RunResult:
    """Continue a paused, waiting or crashed instance."""
    paths = instance_paths(home, instance)
    _refuse_if_live(paths, "resume")
    state = load_state(paths)
    if state["status"] in ("completed", "failed", "cancelled"):
        raise ConflictError(f"instance {paths.id} is {state['status']}: nothing to resume; {_rerun_hint(paths, state)}")
    if detach_run:
        return detach(home, paths, "resume", _detach_flags(kw) + _detach_executor(home, kw), no_cache=bool(kw.get("no_cache")))
    return drive(home, paths, **kw)


def _retry_roots(state: Mapping[str, Any]) -> list[str]:
    """The tasks a plain ``retry`` runs again: the failed and cancelled ones."""
    return [t for t, ts in state["tasks"].items() if ts["status"] in ("failed", "cancelled")]


def _task_choices(state: Mapping[str, Any]) -> str:
    """The tasks one could name with ``retry --task`` (those that ran), for a message."""
    ran = [t for t, ts in state["tasks"].items() if ts["status"] != "pending"] or list(state["tasks"])
    shown = ", ".join(ran[:10]) + (f" (and {len(ran) - 10} more)" if len(ran) > 10 else "")
    return shown


def _rerun_hint(paths: InstancePaths, state: Mapping[str, Any]) -> str:
    """What to use instead of start/resume on a finished instance (never a command that refuses it too)."""
    if _retry_roots(state):
        return f"'workflow-cli retry {paths.id}' runs its failed tasks again"
    cps = " --checkpoint CP" if state.get("checkpoints") else " --checkpoint start"
    return (f"to run tasks again use 'workflow-cli retry {paths.id} --task TASK' (tasks: {_task_choices(state)}), "
            f"'workflow-cli rollback {paths.id}{cps}' to return to a checkpoint, "
            f"or 'workflow-cli run {state.get('template') or 'TEMPLATE'}' for a new instance")


def retry_targets(home: Home, paths: InstancePaths, state: Mapping[str, Any], tasks: Sequence[str], downstream: bool) -> list[str]:
    """Tasks ``retry`` puts back to pending, in document order (the named or failed ones first of all)."""
    from workflow_cli.errors import did_you_mean
    from workflow_cli.graph.dag import build_graph, descendants
    from workflow_cli.model.document import build_workflow

    wf = build_workflow(read_document(paths))
    for t in tasks:
        if t not in wf.tasks:
            raise NotFoundError(f"unknown task '{t}' in instance {paths.id} ({did_you_mean(t, list(wf.tasks)) or 'see workflow-cli status'})")
    statuses = {tid: ts for tid, ts in state["tasks"].items()}
    roots = list(tasks) or _retry_roots(state)
    if not roots:
        raise ConflictError(f"instance {paths.id} has no failed task to retry; name one with --task "
                            f"(tasks: {_task_choices(state)})")
    g = build_graph({tid: t.dependencies for tid, t in wf.tasks.items()})
    below = descendants(g, roots) - set(roots)
    chosen = set(roots)
    for tid in below:
        ts = statuses[tid]
        blocked = ts["status"] == "cancelled" or (ts["status"] == "skipped" and ts.get("error_kind") in ("upstream_failed", "upstream_skipped", "aborted"))
        if downstream or blocked or ts["status"] == "failed":
            chosen.add(tid)
    return [tid for tid in wf.tasks if tid in chosen and (statuses[tid]["status"] != "pending")]


def retry(home: Home, instance: str, *, tasks: Sequence[str] = (), downstream: bool = False, detach_run: bool = False, **kw: Any) -> RunResult:
    """Reset failed (or named) tasks, and with ``downstream`` everything after them, then continue."""
    paths = instance_paths(home, instance)
    _refuse_if_live(paths, "retry")
    state = load_state(paths)
    targets = retry_targets(home, paths, state, tasks, downstream)
    if not targets and not tasks:
        raise ConflictError(f"nothing to retry in instance {paths.id}")

    roots = set(tasks) or {t for t, ts in state["tasks"].items() if ts["status"] in ("failed", "cancelled")}
    # a named or failed foreach task keeps its completed items; a task re-run as downstream starts over
    reset = [(tid, tid not in roots) for tid in targets]
    if detach_run:  # checked here, run by a background ``retry`` (serve's API)
        extra = [arg for t in tasks for arg in ("--task", t)] + (["--downstream"] if downstream else [])
        return detach(home, paths, "retry", extra)
    return drive(home, paths, reopen=True, reset=reset, **kw)
