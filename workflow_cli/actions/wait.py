"""The ``wait`` action (SPEC 6.4): a durable wait for a time span, a moment, or a named signal.

Like an approval, ``run`` returns a *waiting* result; the runner may exit and a later runner or
``tick`` wakes the task through :meth:`WaitAction.poll` (timers, timeouts) or
:meth:`WaitAction.deliver` (signals). A signal's JSON payload becomes the task's outputs and is
merged into ``vars`` by the runner.
"""

from __future__ import annotations

from typing import Any, Mapping

from workflow_cli.actions.base import ActionContext, ActionResult, ctx_now, outputs_result, unknown_key_issues
from workflow_cli.errors import Issue

ALLOWED = ("seconds", "until", "signal", "timeout_seconds", "on_timeout")
ON_TIMEOUT = ("fail", "continue")


class WaitAction:
    """Waits for ``seconds``, ``until`` an ISO time, or a ``signal``."""

    name = "wait"
    shell_fields: tuple[str, ...] = ()
    inline = True

    def run(self, ctx: ActionContext) -> ActionResult:
        """Start waiting (or finish at once when the moment has passed or the signal already came)."""
        from workflow_cli.clock import parse_iso, utc_iso

        p = ctx.parameters
        now = ctx_now(ctx)
        if p.get("signal"):
            name = str(p["signal"])
            buffered = ctx.services.get("signals") or {}
            if name in buffered:  # sent before this wait started (SPEC 16); a signal without data has a null payload
                return outputs_result({"signal": name, "payload": buffered[name]})
            timeout = p.get("timeout_seconds")
            waiting = {"kind": "signal", "name": name, "timeout_at": now + float(timeout) if timeout else None,
                       "on_timeout": p.get("on_timeout") or "fail"}
            ctx.log(f"waiting for signal '{name}'")
            return ActionResult(True, None, waiting=waiting)
        if p.get("until") is not None:
            try:
                until = parse_iso(str(p["until"]))
            except ValueError:
                return ActionResult.failure(f"until: not an ISO 8601 time: {p['until']!r}")
        else:
            until = now + float(p.get("seconds") or 0)
        if until <= now:
            return outputs_result({"waited_until": utc_iso(until)})
        ctx.log(f"waiting until {utc_iso(until)}")
        return ActionResult(True, None, waiting={"kind": "timer", "until": until, "until_iso": utc_iso(until)})

    def deliver(self, waiting: Mapping[str, Any], request: Mapping[str, Any], now: float) -> ActionResult | dict[str, Any] | None:
        """A matching signal completes the wait with its payload."""
        if request.get("kind") != "signal" or waiting.get("kind") != "signal":
            return None
        data = request.get("data") or {}
        if data.get("name") != waiting.get("name"):
            return None
        return outputs_result({"signal": waiting["name"], "payload": data.get("payload")})

    def poll(self, waiting: Mapping[str, Any], now: float, services: Mapping[str, Any] | None = None) -> ActionResult | dict[str, Any] | None:
        """A due timer completes; a signal wait past its timeout fails or continues."""
        from workflow_cli.clock import utc_iso

        if waiting.get("kind") == "timer":
            return outputs_result({"waited_until": utc_iso(float(waiting["until"]))}) if now >= float(waiting["until"]) else None
        deadline = waiting.get("timeout_at")
        if deadline is None or now < float(deadline):
            return None
        if waiting.get("on_timeout") == "continue":
            return outputs_result({"signal": waiting.get("name"), "payload": None, "timed_out": True})
        return ActionResult.failure(f"signal '{waiting.get('name')}' did not arrive in time", kind="timeout")

    def next_due(self, waiting: Mapping[str, Any]) -> float | None:
        """When :meth:`poll` may next change something."""
        value = waiting.get("until") if waiting.get("kind") == "timer" else waiting.get("timeout_at")
        return float(value) if value is not None else None

    def validate(self, parameters: Mapping[str, Any], path: str) -> list[Issue]:
        """Exactly one of seconds, until, signal."""
        issues = unknown_key_issues(parameters, ALLOWED, path)
        given = [k for k in ("seconds", "until", "signal") if parameters.get(k) is not None]
        if len(given) != 1:
            issues.append(Issue(path, "a wait needs exactly one of: seconds, until, signal"))
        return issues
