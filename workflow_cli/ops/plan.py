"""``run --dry-run``: the order tasks would start in, their rendered parameters and conditions."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from workflow_cli.errors import WorkflowError
from workflow_cli.store.home import Home
from workflow_cli.templates.render import contains_template, expression_references, is_single_expression, render_value


def dry_run(home: Home, source: str, *, cli_pairs: Sequence[str] = (), params_file: str | None = None) -> dict[str, Any]:
    """Validate and parametrise like ``create``, then describe the plan; nothing is written."""
    from workflow_cli.graph.dag import build_graph, topological_generations
    from workflow_cli.model.document import build_workflow
    from workflow_cli.ops.create import prepare
    from workflow_cli.templates.params import SECRET_MASK

    prepared = prepare(home, source, cli_pairs=cli_pairs, params_file=params_file)
    wf = build_workflow(prepared.document)
    g = build_graph({tid: t.dependencies for tid, t in wf.tasks.items()})
    public = prepared.params.public()
    set_vars = {name for t in wf.tasks.values() for name in t.set_vars}
    scope = {"params": public, "vars": dict(wf.variables), "tasks": {}, "instance": {}, "env": {}, "_set_vars": set_vars}
    steps = []
    for level, generation in enumerate(topological_generations(g)):
        for tid in sorted(generation, key=lambda t: (-wf.tasks[t].priority, wf.tasks[t].index)):
            task = wf.tasks[tid]
            params = plan_value(dict(task.parameters), scope)
            steps.append({"task": tid, "name": task.label, "action": task.action, "stage": level + 1,
                          "dependencies": list(task.dependencies), "trigger_rule": task.trigger_rule if isinstance(task.trigger_rule, str) else {"min_success": task.trigger_rule.n},
                          "conditions": list(task.conditions), "parameters": params,
                          "retry": {"max_attempts": task.retry.max_attempts, "delay_seconds": task.retry.delay_seconds},
                          "timeout_seconds": task.timeout_seconds})
    return {"template": prepared.source.template, "name": wf.name, "params": public, "execution_mode": wf.execution_mode,
            "secret_mask": SECRET_MASK, "steps": steps, "dry_run": True}


_BLOCK = re.compile(r"\{\{.*?\}\}", re.DOTALL)
# Scope roots known only once the run is under way: a plan shows where such a value will come from.
RUNTIME_ROOTS = ("tasks", "vars", "secrets", "instance", "env", "item", "loop", "signal")


def plan_value(value: Any, scope: Mapping[str, Any]) -> Any:
    """``value`` rendered as far as a plan can: a placeholder such as ``<from split.outputs.partitions>``
    stands for each ``{{ }}`` that reads a task's outputs, a variable or another run-time value."""
    if isinstance(value, Mapping):
        return {k: plan_value(v, scope) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plan_value(v, scope) for v in value]
    if not isinstance(value, str) or not contains_template(value):
        return value
    if is_single_expression(value) or "{%" in value:
        return _placeholder(value, scope, is_template=not is_single_expression(value))
    return _BLOCK.sub(lambda m: str(_placeholder(m.group(0), scope, is_template=False)), value)


def _placeholder(text: str, scope: Mapping[str, Any], *, is_template: bool) -> Any:
    try:
        refs = expression_references(text, is_template=is_template)
    except WorkflowError:
        return text
    late = [_ref_text(root, path) for root, path in refs if _is_late(root, path, scope)]
    if late:
        return "<from " + ", ".join(dict.fromkeys(late)) + ">"
    try:
        return render_value(text, scope)
    except WorkflowError:
        return text


def _is_late(root: str, path: tuple[str, ...], scope: Mapping[str, Any]) -> bool:
    """A document variable no task sets is known before the run; every other run-time root is not."""
    if root == "vars" and path and path[0] in scope.get("vars", {}):
        return path[0] in scope.get("_set_vars", ())
    return root in RUNTIME_ROOTS


def _ref_text(root: str, path: tuple[str, ...]) -> str:
    """``tasks.split.outputs.partitions`` reads as ``split.outputs.partitions``."""
    parts = list(path) if root == "tasks" and path else [root, *path]
    return ".".join(parts)
