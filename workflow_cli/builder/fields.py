"""Keyword arguments of the builder: their names (the document's), shorthands, and plain-JSON conversion."""

from __future__ import annotations

import json
import math
import types
import typing
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, TypedDict, Union

from workflow_cli.builder.expr import Expr, as_expression, literal
from workflow_cli.builder.handles import TaskHandle
from workflow_cli.errors import did_you_mean

Dependency = TaskHandle | str
ExprLike = Expr | str


class GateFields(TypedDict, total=False):
    """Task fields of ``approval()`` and ``wait()``, whose own ``timeout_seconds`` is the action's deadline."""

    name: str
    description: str
    after: Dependency | Sequence[Dependency]
    dependencies: Dependency | Sequence[Dependency]
    conditions: ExprLike | Sequence[ExprLike]
    trigger_rule: str | Mapping[str, Any]
    execution_mode: str
    priority: int
    retry: int | Mapping[str, Any]
    retry_count: int
    retry_delay: float
    on_failure: str
    compensate: Mapping[str, Any]
    foreach: ExprLike | TaskHandle | Sequence[Any]
    foreach_max_parallel: int
    foreach_tolerated_failures: int | str
    loop: Mapping[str, Any]
    set_vars: Mapping[str, ExprLike]
    cache: ExprLike | Mapping[str, Any]
    checkpoint: bool
    on_interrupt: str
    pool: str
    outputs: Sequence[str]
    fallback_agent: str


class TaskFields(GateFields, total=False):
    """Task fields every task method takes as keyword arguments (SPEC 3, the document's names)."""

    timeout_seconds: float


class WorkflowFields(TypedDict, total=False):
    """Top-level document fields ``Workflow(name, ...)`` takes as keyword arguments."""

    id: str
    description: str
    category: str
    tags: Sequence[str]
    variables: Mapping[str, Any]
    defaults: Mapping[str, Any]
    execution_mode: str
    max_parallel: int
    timeout_seconds: float
    expected_duration_seconds: float
    on_failure: str
    hooks: Mapping[str, Any]
    agents: Mapping[str, Any]
    schedule: Mapping[str, Any]
    env_allow: Sequence[str]
    working_dir: str
    triggers: Sequence[Any]
    concurrency: Mapping[str, Any]


# Fields a task method sets itself, or that the builder writes in its own form.
_SET_BY_METHOD = ("action", "parameters", "agent_id", "agent_type", "required_capabilities")
_SET_BY_WORKFLOW = ("$schema", "version", "name", "parameters", "tasks")
_EXPRESSION_LISTS = ("conditions",)


@lru_cache(maxsize=1)
def _schema() -> dict[str, Any]:
    from importlib.resources import files

    text = (files("workflow_cli") / "model" / "schema" / "workflow-2.0.0.json").read_text(encoding="utf-8")
    return json.loads(text)  # type: ignore[no-any-return]


def task_field_names() -> tuple[str, ...]:
    """Task fields a method accepts: the schema's task properties (so new ones work at once), plus ``after``."""
    props = _schema()["$defs"]["task"]["properties"]
    return tuple(sorted({*props, "after"} - set(_SET_BY_METHOD)))


def workflow_field_names() -> tuple[str, ...]:
    """Top-level fields ``Workflow()`` accepts: the schema's, less those it writes itself."""
    return tuple(sorted(set(_schema()["properties"]) - set(_SET_BY_WORKFLOW)))


def check_keywords(where: str, given: Mapping[str, Any], allowed: Sequence[str]) -> None:
    """Raise TypeError naming the first keyword ``where`` does not take (with a "did you mean")."""
    for key in given:
        if key not in allowed:
            if key in _SET_BY_METHOD:
                raise TypeError(f"{where} sets '{key}' itself; use Workflow.task() for a task written field by field")
            hint = did_you_mean(key, list(allowed))
            raise TypeError(f"{where} got an unexpected keyword argument '{key}'" + (f" ({hint})" if hint else ""))


def plain(value: Any, path: str) -> Any:
    """``value`` as plain JSON data: expressions and handles rendered, tuples as lists, keys as strings."""
    if isinstance(value, Expr):
        return str(value)
    if isinstance(value, TaskHandle):
        return str(value.outputs)
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError(f"{path}: {value} is not a JSON number")
        return value
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"{path}: key {key!r} is not a string")
            out[key] = plain(item, f"{path}.{key}")
        return out
    if isinstance(value, (list, tuple)):
        return [plain(item, f"{path}[{i}]") for i, item in enumerate(value)]
    raise TypeError(f"{path}: a {type(value).__name__} cannot go into a workflow document (JSON values only)")


def task_fields(fields: Mapping[str, Any], path: str) -> dict[str, Any]:
    """Task keyword arguments as document fields (``retry=3`` -> ``retry_count: 3``, expressions as text)."""
    out: dict[str, Any] = {}
    for key, value in fields.items():
        if value is None or key in ("after", "dependencies"):
            continue
        where = f"{path}.{key}"
        if key == "retry" and isinstance(value, int) and not isinstance(value, bool):
            if "retry_count" in fields:
                raise TypeError(f"{where}: give retry=N or retry_count=N, not both")
            out["retry_count"] = value
        elif key == "conditions":
            items = [value] if isinstance(value, (str, Expr)) else list(value)
            out[key] = [as_expression(c) for c in items]
        elif key == "foreach":
            out[key] = foreach_expression(value)
        elif key == "cache" and isinstance(value, (str, Expr)):
            out[key] = {"key": as_expression(value)}
        elif key == "set_vars":
            out[key] = {name: as_expression(expr) for name, expr in value.items()}
        else:
            out[key] = plain(value, where)
    return out


def foreach_expression(value: Any) -> str:
    """``foreach=``: an expression, a handle (the list its task returned) or a literal list.

    >>> foreach_expression(["a.png", "b.png"])
    '{{ ["a.png", "b.png"] }}'
    """
    if isinstance(value, TaskHandle):
        return str(value.result)
    if isinstance(value, (list, tuple)):
        return "{{ " + literal(list(value)) + " }}"
    return as_expression(value)


_PYTHON_TYPES: dict[Any, str] = {str: "string", int: "integer", float: "number", bool: "boolean", list: "array",
                                 dict: "object", tuple: "array"}


def parameter_declaration(name: str, value: Any) -> dict[str, Any]:
    """A parameter declaration from a Python type (required, no default) or a full declaration mapping.

    >>> parameter_declaration("day", str), parameter_declaration("n", {"type": "integer", "default": 3})
    ({'type': 'string', 'required': True}, {'type': 'integer', 'default': 3})
    """
    if isinstance(value, Mapping):
        return plain(value, f"parameters.{name}")  # type: ignore[no-any-return]
    origin = typing.get_origin(value) or value
    if isinstance(value, types.UnionType) or origin is Union:
        raise TypeError(f"parameters.{name}: give one type, or a declaration such as {{'type': 'string', 'default': ''}}")
    if origin in _PYTHON_TYPES:
        return {"type": _PYTHON_TYPES[origin], "required": True}
    raise TypeError(
        f"parameters.{name}: {value!r} is not a parameter type (str, int, float, bool, list, dict) or a declaration mapping"
    )
