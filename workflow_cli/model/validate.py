"""What the model itself knows about a document's checks: its version, and where its expressions are.

The whole-document check (schema, graph, rules, expressions, action parameters) needs the layers
above the model and lives in :mod:`workflow_cli.ops.document_checks`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Iterator

from workflow_cli.errors import Issue
from workflow_cli.model.document import Workflow

CURRENT_VERSION = "2.0.0"
TASK_FIELDS = ("status", "outputs", "attempts", "error", "started_at", "finished_at", "items", "duration_seconds")
INSTANCE_FIELDS = ("id", "name", "template", "started_at", "created_at", "workspace")
JINJA_GLOBALS = {"range", "dict", "lipsum", "cycler", "joiner", "namespace", "true", "false", "none", "True", "False", "None"}
BASE_ROOTS = {"params", "vars", "tasks", "instance", "env"}


def version_issues(doc: Mapping[str, Any]) -> list[Issue]:
    """A version this tool cannot read as 2.0.0 (newer, unknown, or old and not migrated) is refused clearly."""
    if doc.get("version") == CURRENT_VERSION:
        return []  # the common case, without loading the migration code
    from workflow_cli.model.migrations import version_issue

    issue = version_issue(doc)
    return [issue] if issue is not None else []


def expression_sites(wf: Workflow) -> Iterator[tuple[str, str, bool, set[str]]]:
    """Yield (path, text, is_template, extra scope names) for every expression in the document."""
    yield from _template_strings("name", wf.name, set())  # rendered at create, like parameters
    yield from _template_strings("description", wf.description, set())
    for tid, task in wf.tasks.items():
        base = f"tasks.{tid}"
        extra = set()
        if task.foreach:
            extra |= {"item", "index"}
        if task.loop:
            extra |= {"loop"}
        for i, cond in enumerate(task.conditions):
            yield f"{base}.conditions[{i}]", cond, False, extra
        if task.foreach:
            yield f"{base}.foreach", task.foreach, False, extra - {"item", "index"}
        if task.loop and isinstance(task.loop.get("until"), str):
            yield f"{base}.loop.until", task.loop["until"], False, extra
        if task.cache and isinstance(task.cache.get("key"), str):
            yield f"{base}.cache.key", task.cache["key"], False, extra
        for name, expr in task.set_vars.items():
            yield f"{base}.set_vars.{name}", expr, False, extra
        params = task.parameters
        if task.action == "condition_check":
            if isinstance(params.get("expression"), str):
                yield f"{base}.parameters.expression", params["expression"], False, extra
            for i, case in enumerate(params.get("cases") or []):
                if isinstance(case, Mapping) and isinstance(case.get("when"), str):
                    yield f"{base}.parameters.cases[{i}].when", case["when"], False, extra
            params = {k: v for k, v in params.items() if k not in ("expression", "cases")}
        yield from _template_strings(f"{base}.parameters", params, extra)
        if task.compensate:
            yield from _template_strings(f"{base}.compensate", task.compensate, extra)
    for event, actions in wf.hooks.items():
        yield from _template_strings(f"hooks.{event}", actions, {"event"})


def _template_strings(path: str, value: Any, extra: set[str]) -> Iterator[tuple[str, str, bool, set[str]]]:
    if isinstance(value, str):
        if "{{" in value or "{%" in value:
            yield path, value, True, extra
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _template_strings(f"{path}.{key}", item, extra)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _template_strings(f"{path}[{i}]", item, extra)


MAX_TASK_ID = 128  # task ids name files (logs/<id>.log, outputs/<id>.<attempt>, mailboxes): far below NAME_MAX


def limit_issues(tid: str, tolerated: Any, base: str) -> list[Issue]:
    """A task id too long to name a file; a tolerated-failure percentage above 100% (SPEC 16)."""
    issues = []
    if len(tid) > MAX_TASK_ID:
        issues.append(Issue(base, f"task id is {len(tid)} characters long; at most {MAX_TASK_ID} (it names the task's files)"))
    if isinstance(tolerated, str) and tolerated.strip().endswith("%"):
        try:
            percent = float(tolerated.strip()[:-1])
        except ValueError:
            percent = -1.0
        if not 0 <= percent <= 100:
            issues.append(Issue(f"{base}.foreach_tolerated_failures", f"'{tolerated}' is not a percentage from 0% to 100%"))
    return issues
