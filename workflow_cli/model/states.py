"""Lifecycle enums (SPEC 6.1, 9) and the one table of allowed state transitions.

The values are the SPEC's strings, and the enums are ``str`` subclasses that hash, compare, format and
serialise as those strings: a member can be used wherever the JSON state and event files hold the
string (``TaskState.RUNNING == "running"``; ``{"task.failed": ...}[EventType.TASK_FAILED]``). Every
status change of the persisted state goes through :func:`check_task_transition`,
:func:`check_item_transition` or :func:`check_instance_transition`
(:func:`workflow_cli.store.state.apply_event` calls them); a change the table does not allow is a
bug and raises :class:`IllegalTransitionError` naming the task, both states and the event.
"""

from __future__ import annotations

from enum import Enum


class StrEnum(str, Enum):
    """A string enum whose members behave as their values (``enum.StrEnum`` before Python 3.11)."""

    __str__ = str.__str__
    __format__ = str.__format__  # type: ignore[assignment]
    __hash__ = str.__hash__


class InstanceState(StrEnum):
    """Where a workflow instance is in its life (SPEC 6.1)."""

    CREATED = "created"
    QUEUED = "queued"
    RUNNING = "running"
    WAITING = "waiting"
    PAUSED = "paused"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def terminal(self) -> bool:
        """Nothing runs again without ``retry``."""
        return self in _TERMINAL_INSTANCE


class TaskState(StrEnum):
    """Where a task (or a foreach item) is in its life (SPEC 6.1)."""

    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        """The task will not run again unless it is reset."""
        return self in FINISHED_TASK


class EventType(StrEnum):
    """Every event the engine and the operations record (SPEC 9 lists the public ones)."""

    WORKFLOW_CREATED = "workflow.created"
    WORKFLOW_STARTED = "workflow.started"
    WORKFLOW_COMPLETED = "workflow.completed"
    WORKFLOW_FAILED = "workflow.failed"
    WORKFLOW_PAUSED = "workflow.paused"
    WORKFLOW_RESUMED = "workflow.resumed"
    WORKFLOW_CANCELLED = "workflow.cancelled"
    WORKFLOW_WAITING = "workflow.waiting"
    WORKFLOW_QUEUED = "workflow.queued"
    QUEUE_RELEASED = "queue.released"
    TASK_STARTED = "task.started"
    TASK_COMPLETED = "task.completed"
    TASK_FAILED = "task.failed"
    TASK_RETRYING = "task.retrying"
    TASK_SKIPPED = "task.skipped"
    TASK_WAITING = "task.waiting"
    TASK_CANCELLED = "task.cancelled"
    TASK_RESET = "task.reset"
    TASK_POOL_WAIT = "task.pool_wait"
    TASK_WARNING = "task.warning"
    ITEM_STARTED = "item.started"
    ITEM_COMPLETED = "item.completed"
    ITEM_FAILED = "item.failed"
    ITEM_RETRYING = "item.retrying"
    ITEM_SKIPPED = "item.skipped"
    ITEM_RESET = "item.reset"
    LOOP_ITERATION = "loop.iteration"
    APPROVAL_REQUIRED = "approval.required"
    APPROVAL_DECIDED = "approval.decided"
    CHECKPOINT_CREATED = "checkpoint.created"
    ROLLBACK_STARTED = "rollback.started"
    ROLLBACK_TASK = "rollback.task"
    ROLLBACK_COMPLETED = "rollback.completed"
    SIGNAL_RECEIVED = "signal.received"
    SIGNAL_BUFFERED = "signal.buffered"
    SIGNAL_CONSUMED = "signal.consumed"
    VARS_SET = "vars.set"
    CHILD_LINKED = "child.linked"
    REQUEST_RECEIVED = "request.received"
    REQUEST_IGNORED = "request.ignored"


class IllegalTransitionError(RuntimeError):
    """A state change the transition table does not allow: a bug in the engine, never bad input."""


FINISHED_TASK = frozenset({TaskState.COMPLETED, TaskState.FAILED, TaskState.SKIPPED, TaskState.CANCELLED})
UNFINISHED_TASK = frozenset({TaskState.PENDING, TaskState.RUNNING, TaskState.WAITING})
_TERMINAL_INSTANCE = frozenset({InstanceState.COMPLETED, InstanceState.FAILED, InstanceState.CANCELLED})

_T = TaskState
# A task (or item) goes back to pending from anywhere by ``task.reset`` (retry, resume, rollback), and
# from a live attempt by ``task.retrying`` or ``loop.iteration``. Failing a pending task is how a task
# that cannot start (an unconfigured pool) or was interrupted before its runner wrote more ends.
TASK_TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    _T.PENDING: frozenset({_T.PENDING, _T.RUNNING, _T.SKIPPED, _T.CANCELLED, _T.FAILED}),
    _T.RUNNING: frozenset({_T.PENDING, _T.RUNNING, _T.WAITING, _T.COMPLETED, _T.FAILED, _T.CANCELLED}),
    _T.WAITING: frozenset({_T.PENDING, _T.WAITING, _T.COMPLETED, _T.FAILED, _T.CANCELLED}),
    _T.COMPLETED: frozenset({_T.PENDING}),
    _T.FAILED: frozenset({_T.PENDING}),
    _T.SKIPPED: frozenset({_T.PENDING}),
    _T.CANCELLED: frozenset({_T.PENDING}),
}
ITEM_TRANSITIONS: dict[TaskState, frozenset[TaskState]] = {
    _T.PENDING: frozenset({_T.RUNNING, _T.SKIPPED, _T.CANCELLED, _T.FAILED}),
    _T.RUNNING: frozenset({_T.PENDING, _T.COMPLETED, _T.FAILED, _T.CANCELLED}),
    _T.COMPLETED: frozenset({_T.PENDING}),
    _T.FAILED: frozenset({_T.PENDING}),
    _T.SKIPPED: frozenset({_T.PENDING}),
    _T.CANCELLED: frozenset({_T.PENDING}),
    _T.WAITING: frozenset(),  # an item never waits
}

_I = InstanceState
# A finished instance runs again only through ``retry`` (resumed) or is paused by a rollback; a
# ``stop``/``cancel`` without a live runner changes a created, queued, waiting or paused instance directly.
INSTANCE_TRANSITIONS: dict[InstanceState, frozenset[InstanceState]] = {
    _I.CREATED: frozenset({_I.QUEUED, _I.RUNNING, _I.PAUSED, _I.CANCELLED}),
    _I.QUEUED: frozenset({_I.QUEUED, _I.RUNNING, _I.PAUSED, _I.CANCELLED}),  # waits for a run slot (SPEC 18.4)
    _I.RUNNING: frozenset({_I.RUNNING, _I.WAITING, _I.PAUSED, _I.COMPLETED, _I.FAILED, _I.CANCELLED}),
    _I.WAITING: frozenset({_I.RUNNING, _I.WAITING, _I.PAUSED, _I.COMPLETED, _I.FAILED, _I.CANCELLED}),
    _I.PAUSED: frozenset({_I.QUEUED, _I.RUNNING, _I.PAUSED, _I.COMPLETED, _I.FAILED, _I.CANCELLED}),
    _I.COMPLETED: frozenset({_I.RUNNING, _I.PAUSED}),
    _I.FAILED: frozenset({_I.RUNNING, _I.PAUSED}),
    _I.CANCELLED: frozenset({_I.RUNNING, _I.PAUSED}),
}


def _plain(table: dict[TaskState, frozenset[TaskState]] | dict[InstanceState, frozenset[InstanceState]]) -> dict[str, frozenset[str]]:
    """The table with plain string keys and values: the check runs three times per task."""
    return {old.value: frozenset(new.value for new in news) for old, news in table.items()}  # type: ignore[attr-defined]


_TASK_OK, _ITEM_OK, _INSTANCE_OK = _plain(TASK_TRANSITIONS), _plain(ITEM_TRANSITIONS), _plain(INSTANCE_TRANSITIONS)


def _illegal(what: str, allowed: frozenset[str] | None, old: str, new: str, event: str) -> IllegalTransitionError:
    ok = ", ".join(sorted(allowed)) if allowed else "nothing"
    return IllegalTransitionError(f"{what}: illegal transition {old} -> {new} by event '{event}' (from {old}: {ok})")


def check_task_transition(task: str, old: str, new: str, event: str) -> None:
    """Raise :class:`IllegalTransitionError` unless task ``task`` may go from ``old`` to ``new``."""
    allowed = _TASK_OK.get(old)
    if allowed is None or new not in allowed:
        raise _illegal(f"task {task}", allowed, old, new, event)


def check_item_transition(task: str, index: int, old: str, new: str, event: str) -> None:
    """Raise :class:`IllegalTransitionError` unless item ``index`` of ``task`` may go from ``old`` to ``new``."""
    allowed = _ITEM_OK.get(old)
    if allowed is None or new not in allowed:
        raise _illegal(f"item {index} of task {task}", allowed, old, new, event)


def check_instance_transition(instance: str, old: str, new: str, event: str) -> None:
    """Raise :class:`IllegalTransitionError` unless the instance may go from ``old`` to ``new``."""
    allowed = _INSTANCE_OK.get(old)
    if allowed is None or new not in allowed:
        raise _illegal(f"instance {instance}", allowed, old, new, event)


# Exit code of a run-like command by the instance's state (SPEC 8).
EXIT_CODE_BY_STATE = {
    InstanceState.COMPLETED: 0,
    InstanceState.FAILED: 1,
    InstanceState.WAITING: 3,
    InstanceState.PAUSED: 6,
    InstanceState.CANCELLED: 7,
}
