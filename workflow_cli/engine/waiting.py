"""Waiting tasks (SPEC 6.4, 6.6): ask an action whether a waiting task can move on.

An action that can wait offers ``poll(waiting, now, services)`` (timers, timeouts, replies that
appear on disk) and ``deliver(waiting, request, now)`` (approve, reject, signal). Each returns a
final :class:`ActionResult`, an updated waiting mapping, or None for "no change".
"""

from __future__ import annotations

from typing import Any, Mapping

from workflow_cli.actions.base import ActionResult

Change = "ActionResult | dict[str, Any] | None"


def _action(name: str) -> Any:
    from workflow_cli.actions import registry

    try:
        return registry().get(name)
    except KeyError:
        return None


def poll_waiting(action_name: str, waiting: Mapping[str, Any], now: float, services: Mapping[str, Any]) -> ActionResult | dict[str, Any] | None:
    """What changed for a waiting task at ``now`` (None: still waiting as it was)."""
    action = _action(action_name)
    poll = getattr(action, "poll", None)
    if poll is None:
        return None
    change: ActionResult | dict[str, Any] | None
    if action_name == "agent_task":
        change = poll(waiting, services.get("home"))
    else:
        change = poll(waiting, now, services)
    return change


def can_move_on(action_name: str, waiting: Mapping[str, Any], now: float, services: Mapping[str, Any]) -> bool:
    """Whether polling would move a waiting task on now, without acting on it (``tick``'s probe).

    Polling an agent task records the agent call in ``agents/stats.jsonl``; the probe reads the
    mailbox reply instead, so that the runner that then takes the reply records the call once.
    """
    if action_name == "agent_task" and waiting.get("kind") == "mailbox":
        from workflow_cli.agents.mailbox_agent import check_mailbox

        return check_mailbox(waiting, home=services.get("home")) is not None
    return poll_waiting(action_name, waiting, now, services) is not None


def deliver(action_name: str, waiting: Mapping[str, Any], request: Mapping[str, Any], now: float) -> ActionResult | dict[str, Any] | None:
    """Hand a request (approve, reject, signal) to a waiting task's action."""
    action = _action(action_name)
    handler = getattr(action, "deliver", None)
    return handler(waiting, request, now) if handler is not None else None


def next_due(action_name: str, waiting: Mapping[str, Any]) -> float | None:
    """When polling may next change something (None: only an outside event can)."""
    action = _action(action_name)
    fn = getattr(action, "next_due", None)
    return fn(waiting) if fn is not None else None


def polls_files(waiting: Mapping[str, Any]) -> bool:
    """Waiting on something that appears on disk (a mailbox reply, a child instance): poll every loop."""
    return waiting.get("kind") in ("mailbox", "child")
