"""``run --dry-run``: the order tasks would start in, their rendered parameters and conditions."""

from __future__ import annotations

from typing import Any, Sequence

from workflow_cli.store.home import Home


def dry_run(home: Home, source: str, *, cli_pairs: Sequence[str] = (), params_file: str | None = None) -> dict[str, Any]:
    """Validate and parametrise like ``create``, then describe the plan; nothing is written."""
    from workflow_cli.graph.dag import build_graph, topological_generations
    from workflow_cli.model.document import build_workflow
    from workflow_cli.ops.create import prepare
    from workflow_cli.templates.params import SECRET_MASK
    from workflow_cli.templates.render import render_value

    prepared = prepare(home, source, cli_pairs=cli_pairs, params_file=params_file)
    wf = build_workflow(prepared.document)
    g = build_graph({tid: t.dependencies for tid, t in wf.tasks.items()})
    public = prepared.params.public()
    scope = {"params": public, "vars": dict(wf.variables), "tasks": {}, "instance": {}, "env": {}}
    steps = []
    for level, generation in enumerate(topological_generations(g)):
        for tid in sorted(generation, key=lambda t: (-wf.tasks[t].priority, wf.tasks[t].index)):
            task = wf.tasks[tid]
            try:
                params = render_value(dict(task.parameters), {**scope, "tasks": _Lenient()})
            except Exception:  # noqa: BLE001 - runtime values (task outputs) are unknown in a plan
                params = dict(task.parameters)
            steps.append({"task": tid, "name": task.label, "action": task.action, "stage": level + 1,
                          "dependencies": list(task.dependencies), "trigger_rule": task.trigger_rule if isinstance(task.trigger_rule, str) else {"min_success": task.trigger_rule.n},
                          "conditions": list(task.conditions), "parameters": params,
                          "retry": {"max_attempts": task.retry.max_attempts, "delay_seconds": task.retry.delay_seconds},
                          "timeout_seconds": task.timeout_seconds})
    return {"template": prepared.source.template, "name": wf.name, "params": public, "execution_mode": wf.execution_mode,
            "secret_mask": SECRET_MASK, "steps": steps, "dry_run": True}


class _Lenient(dict):  # type: ignore[type-arg]
    """Stands for ``tasks`` in a plan: any task's outputs render as a placeholder."""

    def __missing__(self, key: str) -> Any:
        return {"status": "pending", "outputs": _Placeholder(f"tasks.{key}.outputs"), "attempts": 0}


class _Placeholder(dict):  # type: ignore[type-arg]
    def __init__(self, path: str) -> None:
        super().__init__()
        self.path = path

    def __missing__(self, key: str) -> str:
        return f"<{self.path}.{key}>"

    def __str__(self) -> str:
        return f"<{self.path}>"
