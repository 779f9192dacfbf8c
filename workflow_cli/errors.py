"""Errors raised by workflow-cli; each carries the process exit code the CLI uses.

Tree::

    WorkflowError (1)
    ├── InvalidInputError (2)      bad document, parameters or command line; carries Issues
    ├── NotFoundError (4)          instance, template, file, task or checkpoint
    ├── ConflictError (5)          a live runner holds the instance / wrong state
    └── StateError (1)             a state file is corrupt, truncated or from a newer release
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Issue:
    """One problem found in user input, located by a path like ``tasks.deploy.dependencies[0]``."""

    path: str
    message: str
    hint: str | None = None

    def __str__(self) -> str:
        text = f"{self.path}: {self.message}" if self.path else self.message
        return f"{text} ({self.hint})" if self.hint else text

    def to_json(self) -> dict[str, str]:
        data = {"path": self.path, "message": self.message}
        if self.hint:
            data["hint"] = self.hint
        return data


class WorkflowError(Exception):
    """Root of every error the tool reports to a user."""

    exit_code = 1


class InvalidInputError(WorkflowError):
    """Input that cannot be used: a document, a parameter set or a command line."""

    exit_code = 2

    def __init__(self, message: str | None = None, issues: list[Issue] | None = None) -> None:
        self.issues = list(issues or [])
        if message is None:
            message = "; ".join(str(i) for i in self.issues) or "invalid input"
        super().__init__(message)

    @classmethod
    def at(cls, path: str, message: str, hint: str | None = None) -> InvalidInputError:
        issue = Issue(path, message, hint)
        return cls(str(issue), [issue])


class NotFoundError(WorkflowError):
    """Something named on the command line does not exist."""

    exit_code = 4


class ConflictError(WorkflowError):
    """The command does not apply now: a live runner holds the instance, or its state forbids it."""

    exit_code = 5


class StateError(WorkflowError):
    """A state file is corrupt, truncated, or written by a newer release."""

    exit_code = 1


def did_you_mean(word: str, choices: list[str] | tuple[str, ...] | set[str]) -> str | None:
    """Return a "did you mean 'x'?" hint for a near miss, or None."""
    import difflib

    match = difflib.get_close_matches(word, sorted(choices), n=1, cutoff=0.6)
    return f"did you mean '{match[0]}'?" if match else None
