"""The human view of ``run --dry-run``."""

from __future__ import annotations

import json
from typing import Any


def render_plan(console: Any, doc: dict[str, Any]) -> None:
    """Print the plan, stage by stage."""
    console.print(f"plan for {doc['template']} ({doc['name']}), {doc['execution_mode']} — nothing will run", markup=False)
    for step in doc["steps"]:
        deps = f" after {', '.join(step['dependencies'])}" if step["dependencies"] else ""
        console.print(f"{step['stage']:>3}. {step['task']} [{step['action']}]{deps}", markup=False)
        for cond in step["conditions"]:
            console.print(f"       if {cond}", markup=False)
        if step["parameters"]:
            console.print(f"       parameters: {json.dumps(step['parameters'], default=str)}", markup=False)
