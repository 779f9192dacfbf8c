"""workflow-cli: a command-line workflow orchestrator over JSON and YAML templates.

Importing the package starts nothing and imports nothing heavy; the Python API
(:class:`WorkflowOrchestrator`) is loaded on first use.
"""

from __future__ import annotations

from typing import Any

from workflow_cli._version import __version__

__all__ = ["WorkflowOrchestrator", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "WorkflowOrchestrator":
        from workflow_cli.api import WorkflowOrchestrator

        return WorkflowOrchestrator
    raise AttributeError(name)
