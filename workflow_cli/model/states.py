"""Lifecycle enums (SPEC 6.1, 9) with the allowed transitions checked in one place."""

from __future__ import annotations

from enum import Enum


class InstanceState(str, Enum):
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
        return self in (InstanceState.COMPLETED, InstanceState.FAILED, InstanceState.CANCELLED)


class TaskState(str, Enum):
    PENDING = "pending"
    RUNNING = "running"
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (TaskState.COMPLETED, TaskState.FAILED, TaskState.SKIPPED, TaskState.CANCELLED)


class EventType(str, Enum):
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
    APPROVAL_REQUIRED = "approval.required"
    APPROVAL_DECIDED = "approval.decided"
    CHECKPOINT_CREATED = "checkpoint.created"
    ROLLBACK_STARTED = "rollback.started"
    ROLLBACK_TASK = "rollback.task"
    ROLLBACK_COMPLETED = "rollback.completed"
    SIGNAL_RECEIVED = "signal.received"


# Exit code of a run-like command by the instance's state (SPEC 8).
EXIT_CODE_BY_STATE = {
    InstanceState.COMPLETED: 0,
    InstanceState.FAILED: 1,
    InstanceState.WAITING: 3,
    InstanceState.PAUSED: 6,
    InstanceState.CANCELLED: 7,
}
