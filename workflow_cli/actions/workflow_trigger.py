"""The ``workflow_trigger`` action (SPEC 6.4): start a child instance, linked both ways.

The child's header names its parent (instance, task, depth); the parent task's outputs name the
child (``instance_id``, and ``child`` as before), and the runner records a ``child.linked`` event as
soon as the child exists (``status --json``: ``parent`` of the child, ``children`` of the parent). With ``wait: true`` (the default) the child
runs in this worker thread and the task finishes when the child does, taking the child's task
outputs; a child that stops to wait (an approval) leaves the parent task waiting on it, and
:meth:`WorkflowTriggerAction.poll` picks the result up later. Cancelling the parent task cancels
the child. Nesting is capped (``max_depth``, default 10).
"""

from __future__ import annotations

import threading
from typing import Any, Mapping

from workflow_cli.actions.base import ActionContext, ActionResult, ChildWorkflows, flag, outputs_result, unknown_key_issues
from workflow_cli.errors import Issue, WorkflowError

ALLOWED = ("template", "file", "params", "wait", "name", "max_depth")
DEFAULT_MAX_DEPTH = 10


def _child_result(home: Any, child_id: str) -> ActionResult | None:
    """The parent task's result once the child is terminal (None while it is not)."""
    from workflow_cli.store.instances import InstancePaths, load_state

    state = load_state(InstancePaths(home.instances / child_id))
    outputs = {"instance_id": child_id, "child": child_id, "status": state["status"],
               "outputs": {tid: ts.get("outputs") or {} for tid, ts in state["tasks"].items()}}
    if state["status"] == "completed":
        return outputs_result(outputs)
    if state["status"] in ("failed", "cancelled"):
        return ActionResult.failure(f"child instance {child_id} {state['status']}: {state.get('error') or ''}".rstrip(": "),
                                    kind="cancelled" if state["status"] == "cancelled" else "error", outputs=outputs)
    return None


def _copy_child_logs(home: Any, child_id: str, log: Any) -> None:
    """Show the child's task output in the parent task's log."""
    from workflow_cli.store.instances import InstancePaths

    paths = InstancePaths(home.instances / child_id)
    if not paths.logs.is_dir():
        return
    for path in sorted(paths.logs.glob("*.log")):
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            log(f"[{child_id}/{path.stem}] {line}")


def _interrupted(home: Any, child_id: str) -> bool:
    """Whether the child's run was stopped by SIGINT/SIGTERM (the same signal reaches the parent's runner)."""
    from workflow_cli.store.instances import InstancePaths, load_state

    state = load_state(InstancePaths(home.instances / child_id))
    return state["status"] == "paused" and str(state.get("error") or "").startswith("interrupted by ")


def _unfinished_child(ctx: ActionContext) -> str | None:
    """The child an earlier attempt of this task started and that was cut off (paused, not finished)."""
    from workflow_cli.store.instances import InstancePaths, load_state, read_header

    home = ctx.services["home"]
    for child_id in reversed(list(ctx.services.get("linked_children") or ())):
        paths = InstancePaths(home.instances / str(child_id))
        try:
            link = read_header(paths).get("parent") or {}
            status = load_state(paths)["status"]
        except (OSError, WorkflowError):
            continue
        if link.get("instance") == ctx.instance_id and link.get("task") == ctx.task_id:
            return str(child_id) if status in ("created", "paused", "running", "waiting") else None
    return None


class WorkflowTriggerAction:
    """Creates (and with ``wait``, runs) a child instance of a template or document file."""

    name = "workflow_trigger"
    shell_fields: tuple[str, ...] = ()
    inline = False

    def run(self, ctx: ActionContext) -> ActionResult:
        """Create the child, then run it here (wait) or in the background (no wait)."""
        from workflow_cli.store.instances import InstancePaths, read_header

        p = ctx.parameters
        home = ctx.services["home"]
        children: ChildWorkflows | None = ctx.services.get("child_workflows")
        if children is None:
            return ActionResult.failure("this runner cannot start child workflows (run it through workflow-cli)")
        parent_paths = ctx.services["paths"]
        parent = read_header(parent_paths).get("parent") or {}
        depth = int(parent.get("depth", 0)) + 1
        limit = int(p.get("max_depth") or DEFAULT_MAX_DEPTH)
        if depth > limit:
            return ActionResult.failure(f"sub-workflow nesting deeper than {limit} levels")
        source = str(p.get("template") or p.get("file") or "")
        wait = flag(p.get("wait"), default=True)
        child_id = _unfinished_child(ctx) if wait and ctx.attempt > 1 else None
        if child_id is not None:
            ctx.log(f"child instance {child_id} was cut off with an earlier attempt: it goes on")
        else:
            try:
                child_id = children.create(source, params=dict(p.get("params") or {}), name=p.get("name"),
                                           parent={"instance": ctx.instance_id, "task": ctx.task_id, "depth": depth},
                                           workdir=ctx.services.get("base_dir"))
            except WorkflowError as exc:
                return ActionResult.failure(f"cannot create the child instance: {exc}")
            ctx.log(f"child instance {child_id} created from {source}")
            registry = ctx.services.get("children")
            if registry is not None:
                registry.append(child_id)
            link = ctx.services.get("link_child")
            if link is not None:
                link(child_id, ctx.task_id)  # status --json of the parent lists it while it runs
        child_paths = InstancePaths(home.instances / child_id)
        if not wait:
            children.start_background(child_id)
            return outputs_result({"instance_id": child_id, "child": child_id, "status": "running"})
        return self._run_child(ctx, home, child_paths, children)

    def _run_child(self, ctx: ActionContext, home: Any, child_paths: Any, children: ChildWorkflows) -> ActionResult:
        """Drive the child here until it stops; an interrupted run leaves it paused for the next attempt."""
        child_id = child_paths.id
        done = threading.Event()
        watcher = threading.Thread(target=self._propagate_cancel, args=(ctx, child_paths, done), daemon=True)
        watcher.start()
        try:
            children.run(child_id)
        except WorkflowError as exc:
            return ActionResult.failure(f"child instance {child_id}: {exc}", outputs={"instance_id": child_id, "child": child_id})
        finally:
            done.set()
            _copy_child_logs(home, child_id, ctx.log)
        result = _child_result(home, child_id)
        if result is not None:
            return result
        if ctx.cancel.is_set() or _interrupted(home, child_id):  # SPEC 6.6: the child is paused; the next attempt resumes it
            return ActionResult.failure(f"interrupted while child instance {child_id} ran", kind="cancelled",
                                        outputs={"instance_id": child_id, "child": child_id})
        return ActionResult(True, None, waiting={"kind": "child", "child": child_id})

    @staticmethod
    def _propagate_cancel(ctx: ActionContext, child_paths: Any, done: threading.Event) -> None:
        """When the parent attempt is cancelled while the child runs, ask the child's runner to cancel too."""
        from workflow_cli.store.requests import post_request

        while not done.is_set():
            if ctx.cancel.wait(0.2):
                if hasattr(ctx.cancel, "grace"):
                    return  # SIGINT/SIGTERM: the child's runner, in this process, stops (paused) by itself
                if not done.is_set():
                    post_request(child_paths.root, "cancel", {"reason": "parent cancelled"})
                return

    def poll(self, waiting: Mapping[str, Any], now: float, services: Mapping[str, Any] | None = None) -> ActionResult | dict[str, Any] | None:
        """A waiting parent task finishes when its child is terminal."""
        if waiting.get("kind") != "child" or not services:
            return None
        return _child_result(services["home"], str(waiting["child"]))

    def next_due(self, waiting: Mapping[str, Any]) -> float | None:
        return None

    def validate(self, parameters: Mapping[str, Any], path: str) -> list[Issue]:
        """Exactly one of template and file."""
        issues = unknown_key_issues(parameters, ALLOWED, path)
        if bool(parameters.get("template")) == bool(parameters.get("file")):
            issues.append(Issue(path, "a workflow_trigger needs exactly one of: template, file"))
        return issues
