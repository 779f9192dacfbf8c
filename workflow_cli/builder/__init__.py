"""Workflows written in Python (SPEC 10): ``from workflow_cli import Workflow``.

See :mod:`workflow_cli.builder.workflow` for an example and ``docs/python.md`` for the guide.
"""

from __future__ import annotations

from workflow_cli.builder.expr import Expr
from workflow_cli.builder.handles import TaskHandle
from workflow_cli.builder.workflow import ForEach, Workflow

__all__ = ["Expr", "ForEach", "TaskHandle", "Workflow"]
