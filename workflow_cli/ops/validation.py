"""``validate``: schema, graph and parameter checks, every problem at once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

from workflow_cli.errors import InvalidInputError, Issue
from workflow_cli.store.home import Home


@dataclass(frozen=True)
class ValidationResult:
    """The ``validate --json`` document: ``{"valid", "errors": [{"path", "message"}]}``."""

    source: str
    errors: list[Issue]
    notes: list[str] = field(default_factory=list)
    tasks: int = 0

    @property
    def valid(self) -> bool:
        return not self.errors

    def to_json(self) -> dict[str, Any]:
        return {"valid": self.valid, "errors": [e.to_json() for e in self.errors], "source": self.source, "tasks": self.tasks, "notes": self.notes}


def validate_source(
    home: Home, source_arg: str, *, cli_pairs: Sequence[str] = (), params_file: str | None = None
) -> ValidationResult:
    """Validate a template or file; parameters are checked in full when any are given.

    Without ``--param``/``--params-file``, missing required parameters are a note, not an error:
    a template is valid on its own, and ``create`` checks the values it is given.
    """
    from workflow_cli.ops.sources import load_source

    try:
        source = load_source(home, source_arg)
    except InvalidInputError as exc:
        return ValidationResult(source_arg, exc.issues or [Issue("", str(exc))])
    return validate_document(home, source.document, origin=source.origin, cli_pairs=cli_pairs, params_file=params_file)


def validate_document(
    home: Home, document: Any, *, origin: str, cli_pairs: Sequence[str] = (), params_file: str | None = None
) -> ValidationResult:
    """The checks of :func:`validate_source` on a loaded document (the Python builder uses them too)."""
    from workflow_cli.ops.document_checks import analyse_document
    from workflow_cli.ops.create import _known_actions, load_params_file
    from workflow_cli.templates.params import resolve_params

    issues, wf = analyse_document(document, known_actions=_known_actions())
    if issues or wf is None:
        return ValidationResult(origin, issues)
    from workflow_cli.agents.registry import agent_issues

    issues = agent_issues(home, document)
    if issues:
        return ValidationResult(origin, issues, tasks=len(wf.tasks))
    notes: list[str] = []
    given = bool(cli_pairs) or params_file is not None
    try:
        resolved = resolve_params(wf.parameters, file_values=load_params_file(params_file), cli_pairs=cli_pairs)
        issues = _resolved_issues(document, resolved)
        if not issues:
            issues = _resolved_agent_issues(home, document, resolved)
    except InvalidInputError as exc:
        missing = [i for i in exc.issues if i.message == "missing required parameter"]
        if given:
            issues = exc.issues
        else:
            issues = [i for i in exc.issues if i not in missing]
            if missing:
                notes.append("required parameters to give at create: " + ", ".join(i.path.split(".", 1)[1] for i in missing))
    return ValidationResult(origin, issues, notes, len(wf.tasks))


def _resolved_issues(document: dict[str, Any], params: Any) -> list[Issue]:
    """Problems that only show once the values are in (as ``create`` finds them): render errors, action checks."""
    from workflow_cli.ops.document_checks import document_issues
    from workflow_cli.ops.create import _known_actions
    from workflow_cli.templates.resolve import resolve_document

    resolved = resolve_document(document, params)
    return document_issues(resolved, known_actions=_known_actions()) if resolved != document else []


def _resolved_agent_issues(home: Home, document: dict[str, Any], params: Any) -> list[Issue]:
    """Agent ids that reach ``agent_id`` through a parameter, checked with the values given (SPEC 6.3)."""
    from workflow_cli.agents.registry import agent_issues
    from workflow_cli.templates.resolve import resolve_document

    resolved = resolve_document(document, params)
    return agent_issues(home, resolved, document) if resolved != document else []
