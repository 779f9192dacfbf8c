"""The ``wait`` action (SPEC 6.4): a durable wait for a time span, a moment, or a named signal.

Like an approval, ``run`` returns a *waiting* result; the runner may exit and a later runner or
``tick`` wakes the task through :meth:`WaitAction.poll` (timers, timeouts) or
:meth:`WaitAction.deliver` (signals). A signal's JSON payload becomes the task's outputs and is
merged into ``vars`` by the runner.

``key`` (rendered when the wait starts, or at create when it reads only parameters) ties a signal
wait to one business entity: an event broadcast with a key (``emit NAME --key K``, SPEC 8) wakes
only the waits whose key is ``K``; a ``signal`` sent to the instance, or an ``emit`` without a key,
wakes it whatever its key.
"""

from __future__ import annotations

from typing import Any, Mapping

from workflow_cli.actions.base import ActionContext, ActionResult, ctx_now, outputs_result, unknown_key_issues
from workflow_cli.errors import Issue

ALLOWED = ("seconds", "until", "signal", "key", "timeout_seconds", "on_timeout")
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
            return self._signal(ctx, str(p["signal"]), now)
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

    def _signal(self, ctx: ActionContext, name: str, now: float) -> ActionResult:
        """Wait for signal ``name``, or take the one that came before the wait started."""
        p = ctx.parameters
        key = wait_key(p.get("key"))
        buffered = ctx.services.get("signals") or {}
        # sent before this wait started (SPEC 16; a signal without data has a null payload), for this key
        if name in buffered and key_matches((ctx.services.get("signal_keys") or {}).get(name), key):
            return outputs_result({"signal": name, "payload": buffered[name]})
        timeout = p.get("timeout_seconds")
        waiting = {"kind": "signal", "name": name, "timeout_at": now + float(timeout) if timeout else None,
                   "on_timeout": p.get("on_timeout") or "fail"}
        if key is not None:
            waiting["key"] = key
        ctx.log(f"waiting for signal '{name}'" + (f" with key '{key}'" if key is not None else ""))
        return ActionResult(True, None, waiting=waiting)

    def deliver(self, waiting: Mapping[str, Any], request: Mapping[str, Any], now: float) -> ActionResult | dict[str, Any] | None:
        """A matching signal completes the wait with its payload."""
        if request.get("kind") != "signal" or waiting.get("kind") != "signal":
            return None
        data = request.get("data") or {}
        if data.get("name") != waiting.get("name") or not key_matches(data.get("key"), waiting.get("key")):
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
        key = parameters.get("key")
        if key is not None and parameters.get("signal") is None:
            issues.append(Issue(f"{path}.key", "a key ties a signal wait to one entity: it needs 'signal'"))
        elif key is not None and (isinstance(key, bool) or not isinstance(key, (str, int, float))):
            issues.append(Issue(f"{path}.key", "must be a string or a number (an expression such as '{{ params.order_id }}')"))
        return issues


def wait_key(value: Any) -> str | None:
    """A wait's or an event's key as text (a number key 42 and '42' are the same entity); None without one."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return str(value).strip()


def key_matches(event_key: Any, wait_key_value: Any) -> bool:
    """Whether an event (or a buffered signal) with ``event_key`` is for a wait with ``wait_key_value``.

    An event without a key is for every wait of its name; a keyed one only for waits with that key.
    """
    wanted = wait_key(event_key)
    return wanted is None or wanted == wait_key(wait_key_value)
