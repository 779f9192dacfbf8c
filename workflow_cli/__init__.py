"""workflow-cli: a command-line workflow orchestrator over JSON and YAML templates.

Importing the package starts nothing and imports nothing heavy; the Python API
(:class:`WorkflowOrchestrator`, and the :class:`Workflow` builder) is loaded on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workflow_cli.api import WorkflowOrchestrator
    from workflow_cli.builder import Workflow

from workflow_cli._version import __version__

__all__ = ["Workflow", "WorkflowOrchestrator", "__version__"]


def __getattr__(name: str) -> Any:
    if name == "WorkflowOrchestrator":
        from workflow_cli.api import WorkflowOrchestrator

        return WorkflowOrchestrator
    if name == "Workflow":
        from workflow_cli.builder import Workflow

        return Workflow
    raise AttributeError(name)
