"""The action registry: one module per action type, registered here by its SPEC name.

Third-party actions come from the entry-point group ``workflow_cli.actions`` and are loaded on first use.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Any, Callable

BUILTIN_ACTIONS = {
    "command": "workflow_cli.actions.command:CommandAction",
    "python": "workflow_cli.actions.python_callable:PythonAction",
    "noop": "workflow_cli.actions.noop:NoopAction",
    "agent_task": "workflow_cli.actions.agent_task:AgentTaskAction",
    "file_operation": "workflow_cli.actions.file_operation:FileOperationAction",
    "api_call": "workflow_cli.actions.api_call:ApiCallAction",
    "condition_check": "workflow_cli.actions.condition_check:ConditionCheckAction",
    "approval_gate": "workflow_cli.actions.approval_gate:ApprovalGateAction",
    "wait": "workflow_cli.actions.wait:WaitAction",
    "workflow_trigger": "workflow_cli.actions.workflow_trigger:WorkflowTriggerAction",
}
ENTRY_POINT_GROUP = "workflow_cli.actions"


class Registry:
    """Action types by name; a duplicate name is an error, entry points are imported lazily."""

    def __init__(self, plugins: Callable[[], list[Any]] | None = None) -> None:
        self._specs: dict[str, Any] = {}
        self._loaded: dict[str, Any] = {}
        self._plugins = plugins  # scanned on the first name not registered (or the first names()), not before

    def _scan_plugins(self) -> None:
        """Register the entry points once; a name already registered (a built-in) keeps its action."""
        scan, self._plugins = self._plugins, None
        for ep in scan() if scan is not None else ():
            if ep.name not in self._specs:
                self._specs[ep.name] = ep

    def register(self, name: str, spec: Any) -> None:
        """Add an action (an object, a class, or a ``module:Class`` string)."""
        if name in self._specs:
            raise ValueError(f"action '{name}' is registered twice")
        self._specs[name] = spec

    def names(self) -> list[str]:
        """Every action name, plugins included."""
        self._scan_plugins()
        return sorted(self._specs)

    def __contains__(self, name: str) -> bool:
        if name not in self._specs:
            self._scan_plugins()
        return name in self._specs

    def get(self, name: str) -> Any:
        """The action object for ``name`` (KeyError when unknown)."""
        if name not in self._loaded:
            if name not in self._specs:
                self._scan_plugins()
            spec = self._specs[name]
            try:
                if isinstance(spec, str):
                    module, _, attr = spec.partition(":")
                    spec = getattr(importlib.import_module(module), attr)
                elif hasattr(spec, "load"):
                    spec = spec.load()
            except (ImportError, AttributeError) as exc:
                raise KeyError(f"action '{name}' cannot be loaded: {exc}") from exc
            self._loaded[name] = spec() if isinstance(spec, type) else spec
        return self._loaded[name]


def _entry_points() -> list[Any]:
    from importlib.metadata import entry_points

    try:
        return list(entry_points(group=ENTRY_POINT_GROUP))
    except TypeError:  # Python < 3.10 API
        return list(entry_points().get(ENTRY_POINT_GROUP, []))


@lru_cache(maxsize=1)
def registry() -> Registry:
    """The process-wide registry: built-in actions, then plugins (the entry points are scanned on the first
    name that is not a built-in: a workflow of built-in actions never pays for the scan)."""
    reg = Registry(plugins=_entry_points)
    for name, spec in BUILTIN_ACTIONS.items():
        reg.register(name, spec)
    return reg
