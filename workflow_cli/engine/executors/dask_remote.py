"""The worker side of the ``dask`` executor: run one attempt spec inside a Dask worker process.

:func:`run_remote` is what the runner submits (by reference: the worker imports this module, so
workflow-cli must be installed where the workers run). The attempt runs through the same action code
as with the local executor (:func:`~workflow_cli.engine.spec.run_attempt`: a process tree in its own
session, the timeout kill, ``$WORKFLOW_OUTPUT``, secret masking, the 1 MiB outputs limit), with three
things made local to the worker: the task log and ``$WORKFLOW_OUTPUT`` live in a per-attempt scratch
folder, and the workspace is that folder too unless the executor names a shared one. The log comes
back with the result (at most :data:`MAX_LOG_BYTES`, cut in the middle with a note) and the runner
appends it to ``logs/<task>.log`` in the home.

Two per-attempt Dask ``Event`` objects on the scheduler connect the attempt with its runner:

- ``<key>:started`` is set when the attempt starts and cleared by the runner once it holds the
  result. If Dask runs the same key again (its worker died and the scheduler re-scheduled it, see
  ``distributed.scheduler.allowed-failures``), the second run finds it set and ends at once with kind
  ``worker_lost`` instead of running the command a second time: the task's retry policy decides.
- ``<key>:cancel`` is set by the runner (``stop --force``, ``cancel``, a deadline); a watcher thread in
  the worker process polls it for every running attempt and sets the attempt's cancel flag, which
  kills its process tree.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

from workflow_cli.engine.spec import AttemptSpec, run_attempt

MAX_LOG_BYTES = 8 * 1024 * 1024
CANCEL_POLL_SECONDS = 0.25
WORKER_LOST = "worker_lost"


def started_event(key: str) -> str:
    """The name of the Event marking that the attempt under Dask key ``key`` has started."""
    return f"{key}:started"


def cancel_event(key: str) -> str:
    """The name of the Event asking the attempt under Dask key ``key`` to stop."""
    return f"{key}:cancel"


class _CancelWatcher:
    """One thread per worker process: polls the cancel Event of every running attempt."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, tuple[Any, threading.Event]] = {}
        self._thread: threading.Thread | None = None

    def add(self, key: str, event: Any, cancel: threading.Event) -> None:
        """Watch ``event`` (a ``distributed.Event``) for the attempt ``key``; set ``cancel`` when it is set."""
        with self._lock:
            self._running[key] = (event, cancel)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._watch, name="wf-dask-cancel", daemon=True)
                self._thread.start()

    def discard(self, key: str) -> None:
        """The attempt ``key`` is over."""
        with self._lock:
            self._running.pop(key, None)

    def _watch(self) -> None:
        stop = threading.Event()
        while not stop.wait(CANCEL_POLL_SECONDS):
            with self._lock:
                running = list(self._running.values())
            for event, cancel in running:
                if cancel.is_set():
                    continue
                try:
                    if event.is_set():
                        cancel.set()
                except Exception:  # noqa: BLE001,S112 - the scheduler is unreachable: try again next round
                    continue


_watcher = _CancelWatcher()


def _read_log(path: Path) -> str:
    """The attempt's log text, cut in the middle with a note past :data:`MAX_LOG_BYTES`."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return ""
    with open(path, "rb") as fh:
        if size <= MAX_LOG_BYTES:
            return fh.read().decode("utf-8", "replace")
        half = MAX_LOG_BYTES // 2
        head = fh.read(half)
        fh.seek(size - half)
        tail = fh.read()
    note = f"\n[workflow-cli] log cut on the worker: {size - 2 * half} bytes left out (the limit is 8 MiB)\n"
    return head.decode("utf-8", "replace") + note + tail.decode("utf-8", "replace")


def _where() -> str:
    """The worker's address (or this host's pid when called outside a worker)."""
    try:
        from distributed import get_worker

        return str(get_worker().address)
    except ValueError:
        return f"pid {os.getpid()}"


def _scratch_root() -> str | None:
    try:
        from distributed import get_worker

        return str(get_worker().local_directory)
    except ValueError:
        return None


def _result(result: Any, log: str) -> dict[str, Any]:
    return {"ok": result.ok, "outputs": result.outputs, "error": result.error, "kind": result.kind,
            "exit_code": result.exit_code, "log": log, "worker": _where(), "pid": os.getpid(),
            "usage": dict(result.usage) if result.usage else None}  # measured on the worker (SPEC 9)


def run_remote(spec_json: str, key: str, shared_workspace: str | None = None, agent: dict[str, Any] | None = None,
               payload: dict[str, Any] | None = None) -> dict[str, Any]:
    """Run the attempt ``spec_json`` (:meth:`AttemptSpec.to_json`) submitted under Dask key ``key``; a plain dict back.

    ``agent`` and ``payload``: an agent_task attempt, its agent chosen by the runner
    (:mod:`~workflow_cli.engine.executors.dask_agents`).
    """
    from distributed import Event

    from workflow_cli.actions import registry

    spec = AttemptSpec.from_json(spec_json)
    started = Event(started_event(key))
    if started.is_set():
        # Dask runs this key a second time: the worker that ran it first died (or lost its result)
        return {"ok": False, "outputs": None, "kind": WORKER_LOST, "exit_code": None, "log": "", "worker": _where(),
                "pid": os.getpid(), "error": "the Dask worker running this attempt died before its result reached the runner"}
    started.set()
    scratch = Path(tempfile.mkdtemp(prefix=f"workflow-cli-{spec.instance_id}-", dir=_scratch_root()))
    try:
        workspace = Path(shared_workspace) / spec.instance_id if shared_workspace else scratch / "workspace"
        workspace.mkdir(parents=True, exist_ok=True)
        local = spec._replace(workspace=str(workspace), log_path=str(scratch / "task.log"), home=None,
                        output_file=str(scratch / "output") if spec.output_file is not None else None)
        cancel = threading.Event()
        _watcher.add(key, Event(cancel_event(key)), cancel)
        action: Any
        if agent is not None:
            from workflow_cli.engine.executors.dask_agents import RemoteAgentCall

            action = RemoteAgentCall(agent, payload or {})
        else:
            action = registry().get(spec.action)
        try:
            result = run_attempt(local, action, cancel=cancel)
        finally:
            _watcher.discard(key)
        answer = _result(result, _read_log(scratch / "task.log"))
        if agent is not None:
            answer["agent_seconds"] = action.seconds
        return answer
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
