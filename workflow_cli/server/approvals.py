"""Who may decide a gate over HTTP (SPEC 18.2): a token whose NAME the gate lists, whatever its role."""

from __future__ import annotations

from workflow_cli.errors import ConflictError, NotFoundError, did_you_mean
from workflow_cli.ops.query import instance_paths
from workflow_cli.server.auth import HttpError, Identity
from workflow_cli.store.home import Home
from workflow_cli.store.instances import load_state


def check_approver(home: Home, instance: str, task: str, who: Identity) -> None:
    """403 unless ``who`` is listed among the gate's approvers (current ones, escalation included).

    A gate that lists nobody (anyone may decide it from the CLI) needs an operator token.
    """
    paths = instance_paths(home, instance)
    state = load_state(paths)
    ts = state["tasks"].get(task)
    if ts is None:
        raise NotFoundError(f"unknown task '{task}' in instance {paths.id} ({did_you_mean(task, list(state['tasks'])) or 'see its status'})")
    waiting = ts.get("waiting") or {}
    if ts["status"] != "waiting" or waiting.get("kind") != "approval":
        raise ConflictError(f"task '{task}' of instance {paths.id} is {ts['status']}, not waiting for approval")
    approvers = list(waiting.get("approvers") or [])
    if approvers and who.name not in approvers:
        raise HttpError(403, "forbidden", f"token '{who.name}' is not an approver of this gate (approvers: {', '.join(approvers)})")
    if not approvers and not who.at_least("operator"):
        raise HttpError(403, "forbidden", f"this gate lists no approvers; deciding it needs an operator token, '{who.name}' is {who.role}")
