"""The ``noop`` action: completes at once (joins, placeholders), SPEC 6.4.

``parameters.outputs`` (a mapping, optional) is published as the task's outputs, so a noop can hand
constant values to its dependents: ``{type: noop, parameters: {outputs: {region: eu}}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflow_cli.actions.base import ActionContext, ActionResult, outputs_result, unknown_key_issues
from workflow_cli.errors import Issue

ALLOWED = ("outputs",)


class NoopAction:
    """Does nothing and succeeds; runs inline in the scheduler thread."""

    name = "noop"
    shell_fields: tuple[str, ...] = ()
    inline = True

    def run(self, ctx: ActionContext) -> ActionResult:
        """Succeed with ``parameters.outputs`` (default ``{}``) as outputs."""
        outputs = ctx.parameters.get("outputs")
        if not outputs:
            return ActionResult.success({})
        return outputs_result(outputs)

    def validate(self, parameters: Mapping[str, Any], path: str) -> list[Issue]:
        """Only ``outputs`` is allowed, and it must be a mapping."""
        issues = unknown_key_issues(parameters, ALLOWED, path)
        outputs = parameters.get("outputs")
        if outputs is not None and not isinstance(outputs, Mapping):
            issues.append(Issue(f"{path}.outputs", "must be a mapping of output names to values"))
        return issues
