"""The ``approval_gate`` action (SPEC 6.4): the task waits until enough people approve, or one rejects.

``run`` only opens the gate: it returns a *waiting* result describing who may decide and until when.
The runner hands decisions to :meth:`ApprovalGateAction.deliver` (from ``approve``/``reject``) and
asks :meth:`ApprovalGateAction.poll` about timeouts. A rejection fails the task with kind
``rejected``; a timeout rejects, approves, or escalates once to ``escalate_to`` with a fresh timeout.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflow_cli.actions.base import ActionContext, ActionResult, ctx_now, outputs_result, unknown_key_issues
from workflow_cli.errors import Issue

ALLOWED = ("approvers", "message", "required_approvals", "timeout_seconds", "on_timeout", "escalate_to", "input_schema")
ON_TIMEOUT = ("reject", "approve", "escalate")


def _names(value: Any) -> list[str]:
    if value is None or value == "":
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value if v not in (None, "")]


def _deadline(now: float, seconds: Any) -> float | None:
    if seconds in (None, "", 0):
        return None
    return now + float(seconds)


class ApprovalGateAction:
    """Waits for ``required_approvals`` approvals from ``approvers`` (anyone when empty)."""

    name = "approval_gate"
    shell_fields: tuple[str, ...] = ()
    inline = True

    def run(self, ctx: ActionContext) -> ActionResult:
        """Open the gate: a waiting result the runner records (``approval.required``)."""
        p = ctx.parameters
        now = ctx_now(ctx)
        approvers = _names(p.get("approvers"))
        waiting = {
            "kind": "approval",
            "approvers": approvers,
            "required": int(p.get("required_approvals") or 1),
            "message": str(p.get("message") or f"approve task {ctx.task_id}"),
            "timeout_at": _deadline(now, p.get("timeout_seconds")),
            "timeout_seconds": p.get("timeout_seconds"),
            "on_timeout": str(p.get("on_timeout") or "reject"),
            "escalate_to": _names(p.get("escalate_to")),
            "escalated": False,
            "approvals": [],
            "input_schema": p.get("input_schema"),
        }
        ctx.log(f"approval required from {', '.join(approvers) or 'anyone'}: {waiting['message']}")
        return ActionResult(True, None, waiting=waiting)

    def deliver(self, waiting: Mapping[str, Any], request: Mapping[str, Any], now: float) -> ActionResult | dict[str, Any] | None:
        """Apply an ``approve``/``reject`` request: a final result, an updated waiting state, or None."""
        kind = request.get("kind")
        data = request.get("data") or {}
        by = str(data.get("by") or request.get("actor") or "unknown")
        if kind == "reject":
            return ActionResult.failure(f"rejected by {by}" + (f": {data['comment']}" if data.get("comment") else ""), kind="rejected",
                                        outputs={"decision": "rejected", "by": by, "comment": data.get("comment")})
        if kind != "approve":
            return None
        approvals = [*waiting.get("approvals", []), {"by": by, "comment": data.get("comment"), "data": data.get("data")}]
        if len({a["by"] for a in approvals}) < int(waiting.get("required", 1)):
            return {**waiting, "approvals": approvals}
        merged: dict[str, Any] = {}
        for a in approvals:
            if isinstance(a.get("data"), Mapping):
                merged.update(a["data"])
        return outputs_result({**merged, "decision": "approved", "approved_by": [a["by"] for a in approvals],
                               "comments": [a["comment"] for a in approvals if a.get("comment")]})

    def poll(self, waiting: Mapping[str, Any], now: float, services: Mapping[str, Any] | None = None) -> ActionResult | dict[str, Any] | None:
        """On timeout: reject, approve, or escalate once (new approvers, new timeout)."""
        deadline = waiting.get("timeout_at")
        if deadline is None or now < float(deadline):
            return None
        policy = waiting.get("on_timeout", "reject")
        if policy == "escalate" and not waiting.get("escalated") and waiting.get("escalate_to"):
            return {**waiting, "approvers": list(waiting["escalate_to"]), "escalated": True, "approvals": [],
                    "timeout_at": _deadline(now, waiting.get("timeout_seconds")),
                    "message": f"{waiting.get('message')} (escalated after a timeout)"}
        if policy == "approve":
            return outputs_result({"decision": "approved", "approved_by": [], "timed_out": True})
        return ActionResult.failure("approval timed out", kind="rejected", outputs={"decision": "rejected", "timed_out": True})

    def next_due(self, waiting: Mapping[str, Any]) -> float | None:
        """When :meth:`poll` may next change something."""
        value = waiting.get("timeout_at")
        return float(value) if value is not None else None

    def validate(self, parameters: Mapping[str, Any], path: str) -> list[Issue]:
        """Known keys; ``on_timeout`` among reject/approve/escalate; escalate needs escalate_to."""
        issues = unknown_key_issues(parameters, ALLOWED, path)
        policy = parameters.get("on_timeout")
        if isinstance(policy, str) and "{{" not in policy and policy not in ON_TIMEOUT:
            issues.append(Issue(f"{path}.on_timeout", f"must be one of: {', '.join(ON_TIMEOUT)}"))
        if policy == "escalate" and not parameters.get("escalate_to"):
            issues.append(Issue(f"{path}.escalate_to", "on_timeout 'escalate' needs escalate_to"))
        return issues


def check_decision(waiting: Mapping[str, Any], kind: str, by: str, data: Any) -> str | None:
    """Why ``by`` may not decide this gate now (None when allowed): not an approver, bad --data."""
    approvers = waiting.get("approvers") or []
    if approvers and by not in approvers:
        return f"'{by}' is not an approver of this gate (approvers: {', '.join(approvers)})"
    if kind == "approve" and waiting.get("input_schema") and data is not None:
        from jsonschema import Draft202012Validator

        errors = sorted(Draft202012Validator(waiting["input_schema"]).iter_errors(data), key=lambda e: list(e.absolute_path))
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path) or "data"
            return f"--data does not match the gate's input_schema at {where}: {errors[0].message}"
    if kind == "approve" and waiting.get("input_schema") and data is None:
        return "this gate needs --data matching its input_schema"
    return None
