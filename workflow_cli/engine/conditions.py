"""A foreach task's conditions, split once per run into the task-level ones and the per-item ones."""

from __future__ import annotations

from workflow_cli.model.document import Task

ITEM_NAMES = frozenset({"item", "index"})


class ItemConditions:
    """Which conditions of a foreach task are checked once, and which for each item (they name ``item``/``index``)."""

    def __init__(self) -> None:
        self._split: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {}

    def _parts(self, task: Task) -> tuple[tuple[str, ...], tuple[str, ...]]:
        if task.id not in self._split:
            from workflow_cli.templates.render import expression_references

            per_item = tuple(c for c in task.conditions
                             if any(root in ITEM_NAMES for root, _ in expression_references(c, is_template=False)))
            self._split[task.id] = (tuple(c for c in task.conditions if c not in per_item), per_item)
        return self._split[task.id]

    def task_level(self, task: Task) -> tuple[str, ...]:
        """The conditions of a foreach task that do not name ``item`` or ``index`` (checked once)."""
        return self._parts(task)[0] if task.conditions else ()

    def per_item(self, task: Task) -> tuple[str, ...]:
        """The conditions checked for each item."""
        return self._parts(task)[1] if task.conditions else ()
