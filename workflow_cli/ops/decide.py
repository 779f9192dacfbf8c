"""``approve``, ``reject``, ``signal``: hand a decision to the live runner, or apply it and continue here."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

from workflow_cli.errors import ConflictError, InvalidInputError, NotFoundError, did_you_mean
from workflow_cli.ops.query import instance_paths
from workflow_cli.store.home import Home
from workflow_cli.store.instances import InstancePaths, load_state
from workflow_cli.store.locks import is_locked

TERMINAL = ("completed", "failed", "cancelled")
# Not started (or waiting in the run queue), or stopped by a person: a request is kept for the runner that
# starts or resumes the instance (applying it here would start it, past the queue, or undo the pause).
NOT_MOVING = ("created", "queued", "paused")


def parse_data(text: str | None) -> Any:
    if text is None:
        return None
    from workflow_cli.model.loader import parse_text

    try:
        return parse_text(text, fmt="json")
    except InvalidInputError as exc:
        raise InvalidInputError.at("--data", f"not valid JSON: {exc}") from exc


def deliver_request(home: Home, paths: InstancePaths, kind: str, data: Mapping[str, Any], *, continue_run: bool,
                    sink: Callable[[dict], None] | None, status: str) -> dict[str, Any]:
    """Post the request; with no live runner, apply it here (and continue unless told not to).

    A ``created`` or ``paused`` instance is not driven: applying the request here would start it, or
    take it out of the pause a person chose. The request waits for ``start``/``resume``. A runner
    that was just ending may let go of the instance without reading the request: then it is applied
    here, as if no runner had been alive (see :func:`_taken_by_runner`).
    """
    from workflow_cli.store.requests import post_request

    request = post_request(paths.root, kind, data)
    if is_locked(paths.lock):
        if _taken_by_runner(paths, request):
            return {"id": paths.id, "requested": kind, "handed_to_runner": True, "exit_code": 0}
        status = load_state(paths)["status"]
        if status in TERMINAL:  # it finished meanwhile: nothing is left to take the request
            request.unlink(missing_ok=True)
            return {"id": paths.id, "requested": kind, "handed_to_runner": False, "instance_status": status,
                    "too_late": True, "exit_code": 0}
    if status in NOT_MOVING:
        following = {"created": f"workflow-cli start {paths.id}", "paused": f"workflow-cli resume {paths.id}",
                     "queued": "workflow-cli queue (it starts when a slot is free)"}
        return {"id": paths.id, "requested": kind, "handed_to_runner": False, "queued": True, "instance_status": status,
                "next": following[status], "exit_code": 0}
    from workflow_cli.ops.run import drive

    try:
        result = drive(home, paths, sink=sink, apply_only=not continue_run)
    except ConflictError:  # a runner started meanwhile: it will pick the request up
        return {"id": paths.id, "requested": kind, "handed_to_runner": True, "exit_code": 0}
    out = {"id": paths.id, "requested": kind, "handed_to_runner": False, "status": result.status,
           "exit_code": result.exit_code if continue_run else 0}
    return out


HANDOFF_WAIT = 2.0  # seconds a live runner is given to take a request before it is left to its next pass


def _taken_by_runner(paths: InstancePaths, request: Path) -> bool:
    """Whether the live runner takes ``request``: False when it lets go of the instance with the request still there.

    A runner reads requests at every pass of its loop; one that was ending as the request arrived
    releases its lock without reading it. A runner busy for longer than HANDOFF_WAIT keeps the request
    for its next pass (True).
    """
    import time

    end = time.monotonic() + HANDOFF_WAIT
    while request.exists():
        if not is_locked(paths.lock):
            return not request.exists()
        if time.monotonic() >= end:
            return True
        time.sleep(0.005)
    return True


def decide(home: Home, instance: str, task: str, kind: str, *, by: str, comment: str | None = None,
           data: str | None = None, continue_run: bool = True, sink: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Approve or reject the approval gate ``task``; exit 5 when it is not waiting for a decision."""
    from workflow_cli.actions.approval_gate import check_decision

    paths = instance_paths(home, instance)
    state = load_state(paths)
    if task not in state["tasks"]:
        raise NotFoundError(f"unknown task '{task}' in instance {paths.id} ({did_you_mean(task, list(state['tasks'])) or 'see workflow-cli status ' + paths.id})")
    ts = state["tasks"][task]
    waiting = ts.get("waiting") or {}
    if ts["status"] != "waiting" or waiting.get("kind") != "approval":
        raise ConflictError(f"task '{task}' of instance {paths.id} is {ts['status']}, not waiting for approval")
    value = parse_data(data)
    problem = check_decision(waiting, kind, by, value)
    if problem:
        if problem.startswith("--data") or problem.startswith("this gate needs"):
            raise InvalidInputError.at("--data", problem)
        raise ConflictError(problem)
    return deliver_request(home, paths, kind, {"task": task, "by": by, "comment": comment, "data": value},
                    continue_run=continue_run, sink=sink, status=state["status"])


def _check_someone_waits(paths: InstancePaths, name: str) -> None:
    """Refuse a signal no ``wait`` task of the instance could ever take: it would be kept for nothing.

    A wait whose signal name is still a placeholder (``{{ tasks.x.outputs.name }}``) could take any name.
    """
    from workflow_cli.ops.events import is_static, signal_waits
    from workflow_cli.store.instances import read_document

    wanted = [w["signal"] for w in signal_waits(read_document(paths))]
    if not all(is_static(w) for w in wanted):
        return
    names = {str(w) for w in wanted}
    if name not in names:
        hint = did_you_mean(name, sorted(names)) or (f"its waits take: {', '.join(sorted(names))}" if names
                                                     else "it has no wait task for a signal")
        raise InvalidInputError.at("NAME", f"no task of instance {paths.id} waits for signal '{name}'", hint)


def send_signal(home: Home, instance: str, name: str, *, data: str | None = None, continue_run: bool = True,
                sink: Callable[[dict], None] | None = None) -> dict[str, Any]:
    """Deliver signal ``name`` (with a JSON payload) to the instance's waiting tasks, or keep it for later."""
    paths = instance_paths(home, instance)
    state = load_state(paths)
    if state["status"] in TERMINAL:
        raise ConflictError(f"instance {paths.id} is {state['status']}; it takes no signals")
    if not name or not name.strip():
        raise InvalidInputError.at("NAME", "a signal needs a name")
    _check_someone_waits(paths, name)
    return deliver_request(home, paths, "signal", {"name": name, "payload": parse_data(data)}, continue_run=continue_run, sink=sink,
                    status=state["status"])
