"""Whole-document validation (SPEC 4): schema, graph, rules, expressions and each action's parameters.

Every check returns :class:`~workflow_cli.errors.Issue` objects located by path; :func:`check_document`
raises them all at once so a user fixes a document in one round. This sits in ``ops`` because it
combines the layers below it (model, graph, templates, actions).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from workflow_cli.errors import InvalidInputError, Issue, did_you_mean
from workflow_cli.model.document import ACTION_NAMES, Workflow, build_workflow, default_action
from workflow_cli.model.validate import (
    BASE_ROOTS,
    INSTANCE_FIELDS,
    JINJA_GLOBALS,
    TASK_FIELDS,
    expression_sites,
    limit_issues,
    version_issues,
)


def expression_issues(wf: Workflow) -> list[Issue]:
    """Names an expression uses that cannot exist: unknown params, tasks, env vars or roots."""
    sites = list(expression_sites(wf))
    if not sites:
        return []  # nothing to parse: jinja2 is not even imported
    from workflow_cli.templates.render import ExpressionError, expression_references

    issues: list[Issue] = []
    task_ids = list(wf.tasks)
    param_names = list(wf.parameters)
    for path, text, is_template, extra in sites:
        try:
            refs = expression_references(text, is_template=is_template)
        except ExpressionError as exc:
            issues.append(Issue(path, f"invalid expression: {exc}"))
            continue
        allowed = BASE_ROOTS | extra
        for root, attrs in refs:
            problem = _reference_problem(root, attrs, allowed, task_ids, param_names, wf.env_allow)
            if problem:
                issues.append(Issue(path, *problem))
    return issues


def _shell_commands(wf: Workflow) -> Iterator[tuple[str, str]]:
    """(path, text) of every ``command`` string holding a placeholder: tasks, compensations, hooks."""
    specs: list[tuple[str, Any]] = []
    for tid, task in wf.tasks.items():
        specs.append((f"tasks.{tid}", {"action": task.action, "parameters": task.parameters}))
        if isinstance(task.compensate, Mapping):
            specs.append((f"tasks.{tid}.compensate", task.compensate))
    for event, actions in wf.hooks.items():
        for i, spec in enumerate(actions if isinstance(actions, list) else []):
            specs.append((f"hooks.{event}[{i}]", spec))
    for base, spec in specs:
        params = spec.get("parameters") if isinstance(spec, Mapping) else None
        if isinstance(params, Mapping) and default_action(spec) == "command":
            command = params.get("command")
            if isinstance(command, str) and "{{" in command:
                yield f"{base}.parameters.command", command
            elif isinstance(command, list):
                script = _shell_script_index(command)
                if script is not None and "{{" in str(command[script]):
                    yield f"{base}.parameters.command[{script}]", _ARGV_SCRIPT


_SHELLS = frozenset({"sh", "bash", "dash", "zsh", "ksh", "ash", "mksh", "busybox"})
_ARGV_SCRIPT = ""  # marks the script of an argv-list `sh -c` (not rendered with shell quoting)


def _shell_script_index(argv: list[Any]) -> int | None:
    """The index of the script in ``["sh", "-c", SCRIPT, ...]`` (options may come first), else None."""
    if not argv or not isinstance(argv[0], str) or argv[0].rsplit("/", 1)[-1] not in _SHELLS:
        return None
    start = 2 if argv[0].endswith("busybox") and len(argv) > 1 and argv[1] == "sh" else 1
    for i in range(start, len(argv)):
        arg = argv[i]
        if not isinstance(arg, str) or not arg.startswith("-") or arg in ("-", "--"):
            return None
        if "c" in arg[1:] and not arg.startswith("--"):
            return i + 1 if i + 1 < len(argv) else None
    return None


def shell_quoting_issues(wf: Workflow) -> list[Issue]:
    """A placeholder the author quoted (or put in a heredoc, a comment...) in a command string (SPEC 14)."""
    sites = list(_shell_commands(wf))
    if not sites:
        return []
    from workflow_cli.templates.shell_check import TAGS, quoting_problems

    issues: list[Issue] = []
    for path, command in sites:
        if command == _ARGV_SCRIPT:
            issues.append(Issue(path, "a placeholder in the script of an argv-list shell (-c) is not quoted: "
                                      "its value would run as shell syntax",
                                'use a string command (values are quoted for you), or pass the value as an argument: '
                                '["sh", "-c", "echo \\"$1\\"", "sh", "{{ params.x }}"]'))
            continue
        for placeholder, where in quoting_problems(command):
            if placeholder == TAGS:
                issues.append(Issue(path, f"{{% %}} tags sit {where}, so the quoting of the placeholders cannot be told",
                                    "keep {% %} tags outside quotes and heredocs, between whole words"))
                continue
            issues.append(Issue(path, f"placeholder {placeholder} is {where}: values are shell-quoted for you, "
                                      "so remove the quotes around it", _QUOTING_HINT))
    return issues


_QUOTING_HINT = 'write echo {{ params.x }}, not echo "{{ params.x }}"; for a heredoc, pass the value in env and use "$NAME"'


def _reference_problem(
    root: str,
    attrs: tuple[str, ...],
    allowed: set[str],
    task_ids: list[str],
    param_names: list[str],
    env_allow: Iterable[str],
) -> tuple[str, str | None] | None:
    if root in JINJA_GLOBALS:
        return None
    unsafe = next((a for a in attrs if a.startswith("_")), None)
    if unsafe is not None:
        return f"access to '{unsafe}' is not allowed in a sandboxed expression", None
    if root not in allowed:
        return f"undefined name '{root}'", did_you_mean(root, sorted(allowed)) or f"names in scope: {', '.join(sorted(allowed))}"
    if not attrs:
        return None
    head = attrs[0]
    if root == "params" and head not in param_names:
        return f"unknown parameter 'params.{head}'", did_you_mean(head, param_names) or "declare it under parameters"
    if root == "tasks":
        if head not in task_ids:
            return f"unknown task 'tasks.{head}'", did_you_mean(head, task_ids)
        if len(attrs) > 1 and attrs[1] not in TASK_FIELDS:
            return f"unknown task field '{attrs[1]}'", did_you_mean(attrs[1], TASK_FIELDS) or f"one of: {', '.join(TASK_FIELDS)}"
    if root == "env" and head not in env_allow:
        return f"environment variable '{head}' is not listed in env_allow", f"add '{head}' to env_allow"
    if root == "instance" and head not in INSTANCE_FIELDS:
        return f"unknown instance field '{head}'", did_you_mean(head, INSTANCE_FIELDS)
    return None


def _action_parameter_issues(action: str, parameters: Mapping[str, Any], path: str) -> list[Issue]:
    """The action's own checks of its parameters (values still holding ``{{ }}`` are checked at run time)."""
    from workflow_cli.actions import registry

    reg = registry()
    if action not in reg:
        return []
    try:
        impl = reg.get(action)
    except KeyError:
        return []
    check = getattr(impl, "validate", None)
    if check is None:
        return []
    return [i for i in check(parameters, path) if "{{" not in str(_lookup(parameters, i.path, path))]


def _lookup(parameters: Mapping[str, Any], issue_path: str, base: str) -> Any:
    """The value an issue points at (for skipping template values), or '' when it cannot be found."""
    key = issue_path[len(base) + 1:].split(".", 1)[0].split("[", 1)[0] if issue_path.startswith(base + ".") else ""
    return parameters.get(key, "") if key else ""


def rule_issues(wf: Workflow, known_actions: Iterable[str]) -> list[Issue]:
    """Task-level rules the schema cannot express."""
    issues: list[Issue] = []
    actions = sorted(set(known_actions))
    for tid, task in wf.tasks.items():
        base = f"tasks.{tid}"
        if task.action not in actions:
            issues.append(Issue(f"{base}.action", f"unknown action '{task.action}'", did_you_mean(task.action, actions) or f"one of: {', '.join(actions)}"))
        if task.execution_mode == "conditional" and not task.conditions:
            issues.append(Issue(f"{base}.execution_mode", "a 'conditional' task needs at least one entry in conditions"))
        rule = task.trigger_rule
        ndeps = len(task.dependencies)
        if not isinstance(rule, str):
            if rule.n > ndeps:
                issues.append(Issue(f"{base}.trigger_rule.min_success", f"can never fire: needs {rule.n} successful dependencies but the task has {ndeps}"))
        elif rule in ("one_success", "one_failed", "all_failed") and ndeps == 0:
            issues.append(Issue(f"{base}.trigger_rule", f"'{rule}' can never fire on a task without dependencies"))
        if task.loop and task.foreach:
            issues.append(Issue(f"{base}.loop", "a task cannot have both loop and foreach"))
        issues += limit_issues(tid, task.foreach_tolerated_failures, base)
        issues += _action_parameter_issues(task.action, task.parameters, f"{base}.parameters")
        if task.compensate is not None:
            comp_action = default_action(task.compensate)
            if comp_action not in actions:
                issues.append(Issue(f"{base}.compensate.action", f"unknown action '{comp_action}'", did_you_mean(comp_action, actions)))
    return issues


def document_issues(doc: Any, *, known_actions: Iterable[str] | None = None) -> list[Issue]:
    """Every problem in a 2.0.0 document: schema first, then graph, rules and expressions."""
    return analyse_document(doc, known_actions=known_actions)[0]


def _raw_dependencies(doc: Mapping[str, Any]) -> dict[str, list[str]] | None:
    """``{task: dependencies}`` of a document that failed the schema, when its task map is sound enough."""
    tasks = doc.get("tasks")
    if not isinstance(tasks, Mapping):
        return None
    deps: dict[str, list[str]] = {}
    for tid, task in tasks.items():
        needs = task.get("dependencies", []) if isinstance(task, Mapping) else None
        if not isinstance(needs, list) or not all(isinstance(d, str) for d in needs):
            return None
        deps[str(tid)] = needs
    return deps


def analyse_document(doc: Any, *, known_actions: Iterable[str] | None = None,
                     schema_checked: bool = False) -> tuple[list[Issue], Workflow | None]:
    """The problems of a document, and its typed workflow when the schema passed (``schema_checked``: these
    exact contents passed the schema check before, see ops/schema_cache.py)."""
    from workflow_cli.model.schema import schema_issues

    if not isinstance(doc, Mapping):
        return [Issue("", "a workflow document must be a mapping")], None
    issues = version_issues(doc)
    if issues:
        return issues, None
    from workflow_cli.graph.checks import graph_issues

    issues = [] if schema_checked else schema_issues(doc)
    if issues:  # no typed workflow: still report the dependency problems the raw task map shows
        deps = _raw_dependencies(doc)
        flagged = {i.path for i in issues}
        more = [i for i in graph_issues(deps) if i.path not in flagged] if deps is not None else []
        return sorted(issues + more, key=lambda i: i.path), None

    wf = build_workflow(doc)
    from workflow_cli.templates.params import declaration_issues

    issues += declaration_issues(wf.parameters)
    issues += graph_issues({tid: t.dependencies for tid, t in wf.tasks.items()})
    issues += rule_issues(wf, known_actions if known_actions is not None else ACTION_NAMES)
    if doc.get("schedule") is not None:  # lazy: cronsim is imported only for a scheduled document
        from workflow_cli.model.schedule_check import schedule_issues

        issues += schedule_issues(doc)
    issues += expression_issues(wf)
    issues += shell_quoting_issues(wf)
    return sorted(issues, key=lambda i: i.path), wf


def check_document(doc: Any, *, known_actions: Iterable[str] | None = None, schema_checked: bool = False) -> Workflow:
    """Validate ``doc`` and return the typed workflow; raise every problem at once."""
    issues, wf = analyse_document(doc, known_actions=known_actions, schema_checked=schema_checked)
    if issues or wf is None:
        raise InvalidInputError(None, issues)
    return wf
