"""``agent_task`` attempts on a Dask cluster: the agent is chosen in the runner, the call made on a worker.

In the runner, :func:`agent_plan` picks the agent exactly as the local action does (``agent_id``, else
the least-loaded match, else ``fallback_agent``; counted as busy until the result is back) and builds
its payload from the run's scope. Only ``command``, ``python`` and ``http`` agents go to the cluster;
``mailbox`` and built-in agents (and a choice that fails) stay home, where the local action runs as
always. The agent's ``max_concurrent`` is held in the runner: the executor sends the attempt only once
it holds one of the agent's slots. On the worker, :class:`RemoteAgentCall` is the action the spec runs
with: it reaches the agent with :func:`~workflow_cli.agents.kinds.run_agent` and logs the same lines.
The runner appends the call to ``agents/stats.jsonl`` when the result is back.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from workflow_cli.actions.base import ActionContext, ActionResult
from workflow_cli.engine.spec import AttemptSpec, context_for
from workflow_cli.errors import WorkflowError

REMOTE_KINDS = frozenset({"command", "python", "http"})


@dataclass
class AgentPlan:
    """One agent_task attempt bound for the cluster: its agent, payload and the runner's slot on the agent."""

    agent: Any  # an AgentSpec
    payload: dict[str, Any]
    root: Path | None
    slot: threading.BoundedSemaphore | None
    held: bool = False

    def take_slot(self) -> bool:
        """Take one of the agent's ``max_concurrent`` slots if one is free (always true without a limit)."""
        if self.slot is None or self.held:
            return True
        self.held = self.slot.acquire(blocking=False)
        return self.held

    def done(self, payload: Mapping[str, Any] | None, spec: AttemptSpec) -> None:
        """The call is over: give its slot and its load back, and count it in the agent statistics."""
        from workflow_cli.actions.agent_task import release_agent
        from workflow_cli.agents.stats import record_call

        if self.held and self.slot is not None:
            self.slot.release()
            self.held = False
        release_agent(self.agent)
        if payload is not None and self.root is not None and "agent_seconds" in payload:
            record_call(self.root, self.agent.id, ok=bool(payload.get("ok")), seconds=float(payload["agent_seconds"]),
                        instance=spec.instance_id, task=spec.task_id)


def agent_plan(spec: AttemptSpec, services: Mapping[str, Any] | None) -> AgentPlan | None:
    """The plan for an agent_task attempt that can run on the cluster, or None (it runs here)."""
    from workflow_cli.actions.agent_task import agent_slot, choose_agent, release_agent
    from workflow_cli.agents.payload import build_payload
    from workflow_cli.agents.registry import home_root

    ctx = context_for(spec, services=services)
    try:
        agent = choose_agent(ctx)
    except WorkflowError:
        return None  # the local action reports it, word for word
    if agent.kind not in REMOTE_KINDS:
        release_agent(agent)
        return None
    home = (services or {}).get("home") or ctx.home
    return AgentPlan(agent, build_payload(ctx), home_root(home), agent_slot(agent))


def agent_data(agent: Any) -> dict[str, Any]:
    """An AgentSpec as plain data for the worker."""
    return asdict(agent)


class RemoteAgentCall:
    """The action a worker runs for an agent_task attempt: one call of a chosen agent."""

    name = "agent_task"
    inline = False

    def __init__(self, agent: Mapping[str, Any], payload: Mapping[str, Any]) -> None:
        from workflow_cli.agents.registry import AgentSpec

        data = dict(agent)
        for key in ("capabilities",):
            data[key] = tuple(data.get(key) or ())
        if isinstance(data.get("command"), list):
            data["command"] = tuple(data["command"])
        self.agent = AgentSpec(**data)
        self.payload = dict(payload)
        self.seconds = 0.0

    def run(self, ctx: ActionContext) -> ActionResult:
        """Reach the agent from this worker; the payload's workspace is the worker's."""
        from workflow_cli.actions.agent_task import agent_summary
        from workflow_cli.agents.kinds import run_agent

        agent = self.agent
        ctx.log(f"agent {agent.id} ({agent.kind})")
        started = time.monotonic()
        result = run_agent(agent, {**self.payload, "workspace": str(ctx.workspace)}, ctx, home_root=None)
        self.seconds = time.monotonic() - started
        ctx.log(agent_summary(agent.id, result, self.seconds))
        return result
