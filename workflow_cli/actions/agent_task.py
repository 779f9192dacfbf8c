"""The ``agent_task`` action: hand the task to an agent (SPEC 6.3).

The agent is the task's ``agent_id``, else the least-loaded agent of its ``agent_type`` having every
``required_capabilities``, else its ``fallback_agent``. Within this process an agent runs at most
``max_concurrent`` calls at once (a waiting call honours cancellation). Every finished call is appended to
``<home>/agents/stats.jsonl``. A mailbox agent leaves the task ``waiting``; :meth:`AgentTaskAction.poll`
picks up its reply.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from collections.abc import Mapping
from typing import Any

from workflow_cli.actions.base import ActionContext, ActionResult
from workflow_cli.agents.registry import home_root
from workflow_cli.errors import Issue, WorkflowError

_CACHE_LIMIT = 64
_lock = threading.Lock()
_cache: dict[tuple[str, int], tuple[Any, int, dict[str, Any]]] = {}
_load: dict[str, int] = {}
_slots: dict[tuple[str, int], threading.BoundedSemaphore] = {}
_SLOT_POLL = 0.05


def _agents_mtime(root: Path | None) -> int:
    try:
        return (root / "agents.yaml").stat().st_mtime_ns if root is not None else 0
    except OSError:
        return 0


def agents_for(home: Any, workflow: Any) -> dict[str, Any]:
    """The agents a workflow may use, cached per (home, workflow object) until ``agents.yaml`` changes."""
    from workflow_cli.agents.registry import load_agents

    root = home_root(home)
    key, mtime = (str(root), id(workflow)), _agents_mtime(root)
    with _lock:
        hit = _cache.get(key)
    if hit is not None and hit[0] is workflow and hit[1] == mtime:
        return hit[2]
    agents = load_agents(root, getattr(workflow, "agents", None))
    with _lock:
        while len(_cache) >= _CACHE_LIMIT:
            _cache.pop(next(iter(_cache)))
        _cache[key] = (workflow, mtime, agents)
    return agents


def _field(ctx: ActionContext, name: str) -> str | None:
    """A task field naming an agent; a ``{{ }}`` left for run time is rendered against the run's scope."""
    value = getattr(ctx.task, name, None)
    if isinstance(value, str) and "{{" in value:
        from workflow_cli.templates.render import render_value

        value = render_value(value, ctx.services.get("scope") or {})
    return str(value) if value not in (None, "") else None


def _slot(agent: Any) -> threading.BoundedSemaphore | None:
    """The semaphore limiting concurrent calls of ``agent`` in this process (None: unlimited)."""
    if not agent.max_concurrent:
        return None
    with _lock:
        return _slots.setdefault((agent.id, agent.max_concurrent), threading.BoundedSemaphore(agent.max_concurrent))


def _acquire(slot: threading.BoundedSemaphore, cancel: threading.Event) -> bool:
    while not slot.acquire(timeout=_SLOT_POLL):
        if cancel.is_set():
            return False
    return True


def _summary(agent_id: str, result: ActionResult, seconds: float) -> str:
    if result.ok and result.waiting is not None:
        return f"agent {agent_id}: waiting for its reply"
    if result.ok:
        keys = ", ".join(sorted(result.outputs)) if isinstance(result.outputs, Mapping) else ""
        return f"agent {agent_id}: completed in {seconds:.3f} s" + (f" (outputs: {keys})" if keys else "")
    return f"agent {agent_id}: {result.kind}: {result.error}"


def choose_agent(ctx: ActionContext) -> Any:
    """The agent for this attempt (counted as busy until :func:`release_agent`); WorkflowError when none fits."""
    from workflow_cli.agents.registry import select_agent

    agents = agents_for(ctx.services.get("home") or ctx.home, ctx.services.get("workflow"))
    agent_id, agent_type, fallback = (_field(ctx, n) for n in ("agent_id", "agent_type", "fallback_agent"))
    with _lock:
        agent = select_agent(agents, agent_id=agent_id, agent_type=agent_type, fallback=fallback,
                             capabilities=tuple(getattr(ctx.task, "required_capabilities", ()) or ()), load=_load)
        _load[agent.id] = _load.get(agent.id, 0) + 1
    return agent


def release_agent(agent: Any) -> None:
    """The call chosen by :func:`choose_agent` is over (the least-loaded choice counts it no more)."""
    with _lock:
        _load[agent.id] -= 1
        if not _load[agent.id]:
            del _load[agent.id]


def agent_slot(agent: Any) -> threading.BoundedSemaphore | None:
    """The semaphore limiting ``agent``'s concurrent calls from this process (None: unlimited)."""
    return _slot(agent)


def agent_summary(agent_id: str, result: ActionResult, seconds: float) -> str:
    """The log line that ends an agent call."""
    return _summary(agent_id, result, seconds)


class AgentTaskAction:
    """Runs a task on an agent chosen from the registry."""

    name = "agent_task"
    shell_fields: tuple[str, ...] = ()
    inline = False

    def run(self, ctx: ActionContext) -> ActionResult:
        """Select the agent, wait for a free slot on it, and reach it by its kind."""
        try:
            agent = choose_agent(ctx)
        except WorkflowError as exc:
            # an agent removed since create, or a broken agents.yaml: retrying cannot help (SPEC 6.3)
            return ActionResult.failure(str(exc), kind="config")
        try:
            return self._run_on(agent, ctx, home_root(ctx.services.get("home") or ctx.home))
        finally:
            release_agent(agent)

    def _run_on(self, agent: Any, ctx: ActionContext, root: Path | None) -> ActionResult:
        from workflow_cli.agents.kinds import run_agent
        from workflow_cli.agents.payload import build_payload
        from workflow_cli.agents.stats import record_call, running

        slot = _slot(agent)
        if slot is not None and not _acquire(slot, ctx.cancel):
            return ActionResult.failure(f"cancelled while waiting for a free slot on agent {agent.id}", kind="cancelled")
        try:
            ctx.log(f"agent {agent.id} ({agent.kind})")
            started = time.monotonic()
            with running(root, agent.id, ctx.instance_id, ctx.task_id):
                result = run_agent(agent, build_payload(ctx), ctx, home_root=root)
            seconds = time.monotonic() - started
        finally:
            if slot is not None:
                slot.release()
        ctx.log(_summary(agent.id, result, seconds))
        if result.waiting is None and root is not None:
            record_call(root, agent.id, ok=result.ok, seconds=seconds, instance=ctx.instance_id, task=ctx.task_id)
        return result

    def poll(self, waiting: Mapping[str, Any], home: Any) -> ActionResult | None:
        """The result of a waiting agent task once its agent replied, else None."""
        if waiting.get("kind") != "mailbox":
            return None
        from workflow_cli.agents.mailbox_agent import check_mailbox
        from workflow_cli.agents.stats import record_call

        result = check_mailbox(waiting, home=home)
        root = home_root(home)
        if result is not None and root is not None:
            since = waiting.get("since")
            seconds = max(0.0, time.time() - since) if isinstance(since, (int, float)) else 0.0
            record_call(root, str(waiting.get("agent")), ok=result.ok, seconds=seconds,
                        instance=waiting.get("instance"), task=waiting.get("task"))
        return result

    def validate(self, parameters: Mapping[str, Any], path: str) -> list[Issue]:
        """Any parameters are the agent's business: nothing to check here."""
        return []


def check_waiting(waiting: Mapping[str, Any], ctx_like: Any = None) -> ActionResult | None:
    """Poll a waiting agent task; ``ctx_like`` is an ActionContext, a Home, or a home path."""
    home = (ctx_like.services.get("home") or ctx_like.home) if isinstance(ctx_like, ActionContext) else ctx_like
    return AgentTaskAction().poll(waiting, home)
