"""Create-time resolution of ``{{ params.x }}`` placeholders (SPEC 4).

A string whose expressions read only non-secret parameters is rendered now, so the instance stores
the resolved document. Everything else (task outputs, variables, secrets) is left for the runner,
which renders in a single pass at task start. A rendered value that itself contains ``{{`` or
``{%`` keeps its placeholder instead: a parameter value is data and must never be evaluated later.
"""

from __future__ import annotations

import copy
from typing import Any, Mapping

from workflow_cli.templates.params import ResolvedParams

_DELIMS = ("{{", "{%", "{#")


def _param_only(text: str, secret: frozenset[str]) -> bool:
    from workflow_cli.templates.render import expression_references

    refs = expression_references(text, is_template=True)
    return all(root == "params" and attrs and attrs[0] not in secret for root, attrs in refs) and bool(refs)


def _has_delims(value: Any) -> bool:
    if isinstance(value, str):
        return any(d in value for d in _DELIMS)
    if isinstance(value, Mapping):
        return any(_has_delims(k) or _has_delims(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_delims(v) for v in value)
    return False


def _resolve(value: Any, scope: Mapping[str, Any], secret: frozenset[str], *, shell: bool) -> Any:
    if isinstance(value, str):
        if not _has_delims(value) or not _param_only(value, secret):
            return value
        from workflow_cli.templates.render import render_value

        rendered = render_value(value, scope, shell=shell)
        return value if _has_delims(rendered) else rendered
    if isinstance(value, Mapping):
        return {k: _resolve(v, scope, secret, shell=False) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, scope, secret, shell=False) for v in value]
    return value


def _resolve_action(spec: dict[str, Any], scope: Mapping[str, Any], secret: frozenset[str]) -> None:
    params = spec.get("parameters")
    if isinstance(params, dict):
        command = params.get("command") if spec.get("action") == "command" else None
        resolved = _resolve(params, scope, secret, shell=False)
        if isinstance(command, str):
            resolved["command"] = _resolve(command, scope, secret, shell=True)
        spec["parameters"] = resolved
    for key in ("agent_id", "fallback_agent", "agent_type"):
        if isinstance(spec.get(key), str):
            spec[key] = _resolve(spec[key], scope, secret, shell=False)


def resolve_document(doc: Mapping[str, Any], params: ResolvedParams) -> dict[str, Any]:
    """A copy of ``doc`` with every parameter-only, non-secret placeholder rendered."""
    out = copy.deepcopy(dict(doc))
    scope = {"params": params.values}
    secret = params.secret_names
    for key in ("name", "description"):
        if isinstance(out.get(key), str):
            out[key] = _resolve(out[key], scope, secret, shell=False)
    for task in out.get("tasks", {}).values():
        _resolve_action(task, scope, secret)
        if isinstance(task.get("compensate"), dict):
            _resolve_action(task["compensate"], scope, secret)
    return out
