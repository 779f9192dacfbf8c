"""The tasks a task reads in its expressions: a builder makes each of them a dependency."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from workflow_cli.builder.expr import Expr
from workflow_cli.builder.handles import TaskHandle


def _sites(task: Mapping[str, Any]) -> Iterator[tuple[str, bool]]:
    """(text, is_template) for every string of ``task`` that may hold an expression."""
    for cond in task.get("conditions") or ():
        yield cond, False
    if isinstance(task.get("foreach"), str):
        yield task["foreach"], False
    for holder, key in ((task.get("loop"), "until"), (task.get("cache"), "key")):
        if isinstance(holder, Mapping) and isinstance(holder.get(key), str):
            yield holder[key], False
    for expr in (task.get("set_vars") or {}).values():
        yield expr, False
    params = dict(task.get("parameters") or {})
    if task.get("action") == "condition_check":
        if isinstance(params.get("expression"), str):
            yield params.pop("expression"), False
        for case in params.pop("cases", None) or ():
            if isinstance(case, Mapping) and isinstance(case.get("when"), str):
                yield case["when"], False
    yield from ((text, True) for text in _strings(params))
    yield from ((text, True) for text in _strings(task.get("compensate")))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        if "{{" in value or "{%" in value:
            yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def reads(value: Any) -> tuple[frozenset[str], bool]:
    """(tasks its handles and expressions read, whether a plain string may name more) for values as given.

    A string only names a task when it holds the word ``tasks``; then ``document()`` parses the task.
    """
    if isinstance(value, TaskHandle):
        return frozenset({value.id}), False
    if isinstance(value, Expr):
        return value.tasks, False
    if isinstance(value, str):
        return frozenset(), "tasks" in value
    items = value.values() if isinstance(value, Mapping) else value if isinstance(value, (list, tuple)) else ()
    found: frozenset[str] = frozenset()
    parse = False
    for item in items:
        ids, more = reads(item)
        found, parse = found | ids, parse or more
    return found, parse


def referenced_tasks(task: Mapping[str, Any]) -> list[str]:
    """Task ids that ``task`` reads as ``tasks.<id>`` (in order of appearance; bad expressions are skipped).

    >>> referenced_tasks({"action": "command", "parameters": {"command": "echo {{ tasks.a.outputs.n }}"},
    ...                   "conditions": ["tasks['b-2'].status == 'completed'"]})
    ['b-2', 'a']
    """
    from workflow_cli.templates.render import ExpressionError, expression_references

    found: list[str] = []
    for text, is_template in _sites(task):
        try:
            refs = expression_references(text, is_template=is_template)
        except ExpressionError:
            continue  # validation reports it, with its path
        for root, attrs in refs:
            if root == "tasks" and attrs and attrs[0] not in found:
                found.append(attrs[0])
    return found
