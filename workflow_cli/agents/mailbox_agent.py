"""The ``mailbox`` agent kind: work handed over through files, for external agents in any language (SPEC 6.3).

The payload is written atomically to ``<home>/agents/<id>/inbox/<instance>.<task>.json`` and the task
waits. The agent answers by writing ``<home>/agents/<id>/outbox/<instance>.<task>.json``:
``{"status": "completed" | "failed", "result": ..., "error": "..."}``; it should write a temporary file
and rename it, but a reply that does not parse is given :data:`PARTIAL_GRACE` seconds to be completed.
"""

from __future__ import annotations

import time
from pathlib import Path
from collections.abc import Mapping
from typing import Any

from workflow_cli.actions.base import MAX_OUTPUT_BYTES, ActionContext, ActionResult, outputs_result
from workflow_cli.agents.registry import AgentSpec

PARTIAL_GRACE = 1.0
_REPLY_LIMIT = 4 * MAX_OUTPUT_BYTES


def mailbox_paths(home_root: Path, agent_id: str, instance_id: str, task_id: str) -> tuple[Path, Path]:
    """(inbox file, outbox file) of one task for one agent."""
    base = Path(home_root) / "agents" / agent_id
    name = f"{instance_id}.{task_id}.json"
    return base / "inbox" / name, base / "outbox" / name


def _private_dirs(path: Path, home_root: Path) -> None:
    """Create every missing folder from the home down to ``path`` with mode 0700."""
    from workflow_cli.store.home import make_private_dir

    current = Path(home_root)
    for part in path.relative_to(home_root).parts:
        current = current / part
        make_private_dir(current)


def run_mailbox(agent: AgentSpec, payload: Mapping[str, Any], ctx: ActionContext, home_root: Path | None) -> ActionResult:
    """Write the payload to the agent's inbox and put the task in ``waiting`` for the reply."""
    from workflow_cli.store.atomic import write_json_atomic

    if home_root is None:
        return ActionResult.failure(f"mailbox agent {agent.id} needs a home folder", kind="error")
    inbox, outbox = mailbox_paths(home_root, agent.id, ctx.instance_id, ctx.task_id)
    try:
        _private_dirs(inbox.parent, home_root)
        _private_dirs(outbox.parent, home_root)
        outbox.unlink(missing_ok=True)  # a reply to an earlier attempt must not answer this one
        write_json_atomic(inbox, dict(payload))
    except (OSError, ValueError, TypeError) as exc:
        return ActionResult.failure(f"mailbox agent {agent.id}: cannot write {inbox}: {exc}", kind="error")
    ctx.log(f"payload written to {inbox}; waiting for {outbox}")
    waiting = {"kind": "mailbox", "agent": agent.id, "reply": str(outbox), "inbox": str(inbox),
               "instance": ctx.instance_id, "task": ctx.task_id, "attempt": ctx.attempt, "since": time.time()}
    return ActionResult(ok=True, outputs=None, waiting=waiting)


def _reply_path(waiting: Mapping[str, Any], home: Any) -> Path | None:
    """Where the reply is: rebuilt from the home when possible, else the recorded path."""
    from workflow_cli.agents.registry import ID_RULE, home_root

    root = home_root(home)
    agent, instance, task = waiting.get("agent"), waiting.get("instance"), waiting.get("task")
    if root is not None and all(isinstance(v, str) and ID_RULE.match(v) for v in (agent, instance, task)):
        return mailbox_paths(root, str(agent), str(instance), str(task))[1]
    reply = waiting.get("reply")
    return Path(reply) if isinstance(reply, str) and reply else None


def _malformed(path: Path, why: str) -> ActionResult:
    return ActionResult.failure(f"malformed mailbox reply {path}: {why}", kind="output")


def check_mailbox(waiting: Mapping[str, Any], home: Any = None) -> ActionResult | None:
    """The agent's reply as a result, or None while there is none (or it is still being written)."""
    from workflow_cli.errors import InvalidInputError
    from workflow_cli.model.loader import parse_text

    path = _reply_path(waiting, home)
    if path is None:
        return ActionResult.failure("the waiting record names no mailbox reply file", kind="output")
    try:
        st = path.stat()
        if st.st_size > _REPLY_LIMIT:
            return _malformed(path, f"larger than {_REPLY_LIMIT} bytes")
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        return ActionResult.failure(f"cannot read mailbox reply {path}: {exc.strerror or exc}", kind="error")
    try:
        reply = parse_text(raw.decode("utf-8-sig"), fmt="json")
    except (InvalidInputError, UnicodeDecodeError) as exc:
        if time.time() - st.st_mtime < PARTIAL_GRACE:
            return None
        return _malformed(path, str(exc))
    if not isinstance(reply, Mapping) or reply.get("status") not in ("completed", "failed"):
        return _malformed(path, 'expected {"status": "completed" | "failed", "result": ..., "error": "..."}')
    if reply["status"] == "failed":
        return ActionResult.failure(str(reply.get("error") or "the agent reported a failure"), kind="error")
    result = reply.get("result")
    return outputs_result({} if result is None else result)
