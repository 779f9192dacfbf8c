"""Task handles: what ``wf.command(...)`` and its siblings return.

A handle names a task of one builder. Give it to ``after=[...]`` to depend on the task, read its
outputs in an expression (``extract.outputs["path"]`` is ``{{ tasks.extract.outputs.path }}``), or
hand it to ``foreach=`` to run a task once per item of the list it returned::

    >>> from workflow_cli import Workflow
    >>> wf = Workflow("demo")
    >>> extract = wf.command("extract", "echo '{\\"path\\": \\"/tmp/x\\"}'")
    >>> str(extract.outputs["path"]), str(extract.status)
    ('{{ tasks.extract.outputs.path }}', '{{ tasks.extract.status }}')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workflow_cli.builder.expr import Expr, accessor

if TYPE_CHECKING:
    from workflow_cli.builder.workflow import Workflow


class TaskHandle:
    """A task added to a :class:`~workflow_cli.builder.workflow.Workflow`."""

    __slots__ = ("_owner", "action", "id")

    def __init__(self, task_id: str, action: str, owner: Workflow) -> None:
        self.id = task_id
        self.action = action
        self._owner = owner

    def __repr__(self) -> str:
        return f"<task {self.id!r} ({self.action})>"

    def __str__(self) -> str:
        return str(self.outputs)

    def belongs_to(self, workflow: Any) -> bool:
        """Whether the handle was made by ``workflow`` (a handle of another builder is refused)."""
        return self._owner is workflow

    def _field(self, name: str) -> Expr:
        return Expr("tasks" + accessor(self.id) + "." + name, frozenset({self.id}))

    @property
    def outputs(self) -> Expr:
        """The task's outputs: ``handle.outputs["rows"]`` renders to ``{{ tasks.<id>.outputs.rows }}``."""
        return self._field("outputs")

    @property
    def result(self) -> Expr:
        """``outputs.result``: what a ``python`` task returned when it was not a dict, or a ``when`` task's result."""
        return self._field("outputs.result")

    @property
    def status(self) -> Expr:
        """The task's status (``completed``, ``failed``, ``skipped`` ...)."""
        return self._field("status")

    @property
    def attempts(self) -> Expr:
        """How many attempts the task has made."""
        return self._field("attempts")

    @property
    def error(self) -> Expr:
        """The error of the task's last failed attempt."""
        return self._field("error")
