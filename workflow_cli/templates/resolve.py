"""Create-time resolution of ``{{ params.x }}`` placeholders (SPEC 4).

A string whose expressions read only non-secret parameters is rendered now, so the instance stores
the resolved document. Everything else (task outputs, variables, secrets) is left for the runner,
which renders in a single pass at task start. A rendered value that itself contains ``{{`` or
``{%`` keeps its placeholder instead: a parameter value is data and must never be evaluated later.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from workflow_cli.errors import InvalidInputError
from workflow_cli.templates.markers import ALL_MARKERS, has_markup
from workflow_cli.templates.params import ResolvedParams



def _param_only(text: str, secret: frozenset[str]) -> bool:
    from workflow_cli.templates.render import expression_references

    refs = expression_references(text, is_template=True)
    return all(root == "params" and attrs and attrs[0] not in secret for root, attrs in refs) and bool(refs)


def _has_delims(value: Any) -> bool:
    return has_markup(value, markers=ALL_MARKERS)


def _resolve(value: Any, scope: Mapping[str, Any], secret: frozenset[str], *, shell: bool, path: str) -> Any:
    if isinstance(value, str):
        if not _has_delims(value):
            return value  # no placeholder: jinja2 is not even imported
        from workflow_cli.templates.render import ExpressionError, render_value

        try:
            if not _param_only(value, secret):
                return value
            rendered = render_value(value, scope, shell=shell)
        except ExpressionError as exc:  # e.g. a division by zero with these values: say where
            raise InvalidInputError.at(path, str(exc)) from exc
        return value if _has_delims(rendered) else rendered
    if isinstance(value, Mapping):
        return {k: _resolve(v, scope, secret, shell=False, path=f"{path}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, scope, secret, shell=False, path=f"{path}[{i}]") for i, v in enumerate(value)]
    return value


def _resolve_action(spec: dict[str, Any], scope: Mapping[str, Any], secret: frozenset[str], base: str) -> None:
    params = spec.get("parameters")
    if isinstance(params, dict):
        command = params.get("command") if spec.get("action") == "command" else None
        resolved = _resolve(params, scope, secret, shell=False, path=f"{base}.parameters")
        if isinstance(command, str):
            resolved["command"] = _resolve(command, scope, secret, shell=True, path=f"{base}.parameters.command")
        spec["parameters"] = resolved
    for key in ("agent_id", "fallback_agent", "agent_type"):
        if isinstance(spec.get(key), str):
            spec[key] = _resolve(spec[key], scope, secret, shell=False, path=f"{base}.{key}")


def resolve_document(doc: Mapping[str, Any], params: ResolvedParams) -> dict[str, Any]:
    """A copy of ``doc`` with every parameter-only, non-secret placeholder rendered (``doc`` itself when
    it holds no placeholder at all: nothing to render, nothing to copy)."""
    if not _has_delims(doc):
        return dict(doc)
    out = copy.deepcopy(dict(doc))
    scope = {"params": params.values}
    secret = params.secret_names
    for key in ("name", "description"):
        if isinstance(out.get(key), str):
            out[key] = _resolve(out[key], scope, secret, shell=False, path=key)
    for tid, task in out.get("tasks", {}).items():
        _resolve_action(task, scope, secret, f"tasks.{tid}")
        if isinstance(task.get("compensate"), dict):
            _resolve_action(task["compensate"], scope, secret, f"tasks.{tid}.compensate")
    return out
