"""The ``condition_check`` action: evaluate an expression or pick the first matching case (SPEC 6.4).

``{expression}`` gives ``{result: <value>, passed: <truthy(value)>}``; ``{cases: [{when, value}],
default}`` gives ``{result: value, case: index}`` for the first case whose ``when`` is truthy, else
``{result: default, case: null}``. A false condition is a result, not a failure; only an expression
that cannot be evaluated fails the attempt (kind ``error``).

The runner renders parameters before the action runs, so ``expression`` and ``when`` arrive in one of
two shapes. A bare expression (``params.amount > 1000``) arrives unchanged and is evaluated here
against the scope in ``ctx.services["scope"]``. A ``{{ ... }}`` one arrives already evaluated; its
value is data and is used as it is, never evaluated a second time (SPEC 14) - the task's declared
parameters (``ctx.task.parameters``) tell the two apart. Without a task, any string is evaluated.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflow_cli.actions.base import ActionContext, ActionResult, outputs_result, unknown_key_issues
from workflow_cli.errors import Issue

ALLOWED = ("expression", "cases", "default")
CASE_KEYS = ("when", "value")
_UNSET = object()


class _EvaluationError(Exception):
    """An expression that cannot be evaluated; becomes a failed attempt."""


def _declared(ctx: ActionContext) -> Mapping[str, Any]:
    declared = getattr(ctx.task, "parameters", None)
    return declared if isinstance(declared, Mapping) else {}


def _case_declared(declared: Mapping[str, Any], index: int) -> Any:
    cases = declared.get("cases")
    if isinstance(cases, list) and index < len(cases) and isinstance(cases[index], Mapping):
        return cases[index].get("when", _UNSET)
    return _UNSET


def _value(rendered: Any, declared: Any, scope: Mapping[str, Any], where: str) -> Any:
    """The native value of a condition, evaluating only what the document wrote as a bare expression."""
    from workflow_cli.templates.render import contains_template, evaluate

    if isinstance(declared, str) and contains_template(declared):
        return rendered  # the runner already evaluated it; its value is data
    if not isinstance(rendered, str):
        return rendered
    try:
        return evaluate(rendered, scope)
    except Exception as exc:  # noqa: BLE001 - any evaluation error is reported with the expression
        raise _EvaluationError(f"{where} {rendered!r} cannot be evaluated: {exc}") from exc


class ConditionCheckAction:
    """Evaluates a condition inline; never has side effects."""

    name = "condition_check"
    shell_fields: tuple[str, ...] = ()
    inline = True

    def run(self, ctx: ActionContext) -> ActionResult:
        """Evaluate ``expression`` or walk ``cases``; see the module docstring for the outputs."""
        from workflow_cli.templates.render import truthy

        params = ctx.parameters
        scope = ctx.services.get("scope") or {}
        declared = _declared(ctx)
        try:
            if "cases" not in params:
                if "expression" not in params:
                    return ActionResult.failure("condition_check needs 'expression' or 'cases'")
                value = _value(params["expression"], declared.get("expression", _UNSET), scope, "expression")
                ctx.log(f"expression is {'true' if truthy(value) else 'false'}")
                return outputs_result({"result": value, "passed": truthy(value)})
            cases = params["cases"]
            if not isinstance(cases, list):
                return ActionResult.failure("parameter 'cases' must be a list of {when, value} mappings")
            for index, case in enumerate(cases):
                if not isinstance(case, Mapping) or "when" not in case:
                    return ActionResult.failure(f"cases[{index}] must be a mapping with 'when'")
                when = _value(case["when"], _case_declared(declared, index), scope, f"cases[{index}].when")
                if truthy(when):
                    ctx.log(f"case {index} matched")
                    return outputs_result({"result": case.get("value"), "case": index})
        except _EvaluationError as exc:
            return ActionResult.failure(str(exc), kind="error")
        ctx.log("no case matched: default")
        return outputs_result({"result": params.get("default"), "case": None})

    def validate(self, parameters: Mapping[str, Any], path: str) -> list[Issue]:
        """Static checks: known keys, exactly one of ``expression`` and ``cases``, well-formed cases."""
        issues = unknown_key_issues(parameters, ALLOWED, path)
        has_expression, has_cases = "expression" in parameters, "cases" in parameters
        if has_expression == has_cases:
            message = "give either 'expression' or 'cases', not both" if has_cases else "missing 'expression' or 'cases'"
            issues.append(Issue(path, message))
        if has_expression and "default" in parameters:
            issues.append(Issue(f"{path}.default", "'default' goes with 'cases'"))
        expression = parameters.get("expression")
        if has_expression and (expression is None or (isinstance(expression, str) and not expression.strip())):
            issues.append(Issue(f"{path}.expression", "must be a non-empty expression"))
        cases = parameters.get("cases")
        if has_cases and not isinstance(cases, list):
            issues.append(Issue(f"{path}.cases", "must be a list of {when, value} mappings"))
        for index, case in enumerate(cases if isinstance(cases, list) else []):
            where = f"{path}.cases[{index}]"
            if not isinstance(case, Mapping):
                issues.append(Issue(where, "must be a mapping with 'when' and 'value'"))
                continue
            if "when" not in case:
                issues.append(Issue(f"{where}.when", "missing required field 'when'"))
            issues += [
                Issue(f"{where}.{key}", f"unknown key '{key}'", "allowed: when, value") for key in case if key not in CASE_KEYS
            ]
        return issues
