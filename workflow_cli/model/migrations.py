"""Schema versions of the workflow document and the pure steps between them (SPEC 11).

Each step takes a valid document of one version and returns a NEW document of the next one; nothing
is mutated. :func:`migrate_document` first checks an old document against the schema of its own
version, so a problem is reported where its author wrote it (``tasks[2].depends_on``), then applies
the steps in order.

The files of an instance carry their own integer format (``instance.json`` and ``state.json``:
``format``; each event of ``events.jsonl``: ``v``). :data:`FORMAT_STEPS` holds one tuple of steps per
file, applied by :func:`migrate_format`; every format is still 1, so the tuples are empty.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from collections.abc import Mapping
from typing import Any, Callable

from workflow_cli.errors import InvalidInputError, Issue, StateError, did_you_mean
from workflow_cli.model.validate import CURRENT_VERSION

Document = dict[str, Any]
_TASK_RENAMES = {"agent": "agent_id", "depends_on": "dependencies", "params": "parameters"}


def _with_version(doc: Mapping[str, Any], version: str) -> Document:
    """A deep copy of ``doc`` whose ``version`` is ``version`` (key order kept)."""
    out = copy.deepcopy(dict(doc))
    out["version"] = version
    return out


def v1_0_0_to_v1_1_0(doc: Mapping[str, Any]) -> Document:
    """1.1.0 only adds the optional task field ``execution_mode``: the content is unchanged."""
    return _with_version(doc, "1.1.0")


def v1_1_0_to_v1_2_0(doc: Mapping[str, Any]) -> Document:
    """1.2.0 only adds the optional task field ``conditions``: the content is unchanged."""
    return _with_version(doc, "1.2.0")


def v1_2_0_to_v2_0_0(doc: Mapping[str, Any]) -> Document:
    """Tasks become an object keyed by id; ``agent``, ``depends_on``, ``params`` and ``conditions`` take their 2.0.0 form.

    Raises:
        InvalidInputError: two tasks share an id (located as ``tasks[3].id``).
    """
    tasks = doc["tasks"]
    issues = duplicate_id_issues(tasks)
    if issues:
        raise InvalidInputError(None, issues)
    out = _with_version(doc, "2.0.0")
    out["tasks"] = {task["id"]: _task_v2(task) for task in tasks}
    return out


def _task_v2(task: Mapping[str, Any]) -> Document:
    """One 1.2.0 task in its 2.0.0 form, fields in their original order."""
    out: Document = {}
    for key, value in task.items():
        if key == "id":
            continue
        if key == "agent" and "action" not in task:
            out["action"] = "agent_task"  # a 1.x task with an agent always ran it: say so explicitly
        if key == "conditions" and isinstance(value, str):
            value = [value]
        out[_TASK_RENAMES.get(key, key)] = copy.deepcopy(value)
    return out


@dataclass(frozen=True)
class Migration:
    """One step: a valid document of ``source`` becomes a valid document of ``target``."""

    source: str
    target: str
    apply: Callable[[Mapping[str, Any]], Document]

    @property
    def name(self) -> str:
        """The step as shown to users: ``1.2.0 -> 2.0.0``."""
        return f"{self.source} -> {self.target}"


MIGRATIONS: tuple[Migration, ...] = (
    Migration("1.0.0", "1.1.0", v1_0_0_to_v1_1_0),
    Migration("1.1.0", "1.2.0", v1_1_0_to_v1_2_0),
    Migration("1.2.0", CURRENT_VERSION, v1_2_0_to_v2_0_0),
)
OLD_VERSIONS: tuple[str, ...] = tuple(step.source for step in MIGRATIONS)
KNOWN_VERSIONS: tuple[str, ...] = (*OLD_VERSIONS, CURRENT_VERSION)


def document_version(doc: Mapping[str, Any]) -> str | None:
    """The document's ``version`` string, or None when it has none (or not a string)."""
    version = doc.get("version") if isinstance(doc, Mapping) else None
    return version if isinstance(version, str) else None


def needs_migration(doc: Mapping[str, Any]) -> bool:
    """Whether ``doc`` is of a known older version that the steps bring to the current one."""
    return document_version(doc) in OLD_VERSIONS


def _version_tuple(text: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return None


def unsupported_version_issue(version: str) -> Issue | None:
    """The problem with a version no step can start from: newer than this tool, or unknown."""
    if version in KNOWN_VERSIONS:
        return None
    parsed, current = _version_tuple(version), _version_tuple(CURRENT_VERSION)
    if parsed is not None and current is not None and parsed > current:
        return Issue("version", f"document version {version} is newer than this tool supports ({CURRENT_VERSION})", "upgrade workflow-cli")
    return Issue("version", f"unknown document version '{version}'", "known versions: " + ", ".join(KNOWN_VERSIONS))


def version_issue(doc: Mapping[str, Any]) -> Issue | None:
    """Why ``doc`` cannot be read as a current document: newer, unknown, or old and not migrated yet."""
    version = document_version(doc)
    if version is None or version == CURRENT_VERSION:
        return None  # a missing or mistyped version is the schema's to report
    if version in OLD_VERSIONS:
        return Issue("version", f"document version {version} must be migrated to {CURRENT_VERSION} before use",
                     "'workflow-cli migrate status' lists the files to upgrade")
    return unsupported_version_issue(version)


def duplicate_id_issues(tasks: Any) -> list[Issue]:
    """One issue per task of a 1.x task list that repeats an earlier task's id."""
    seen: dict[str, int] = {}
    issues = []
    for index, task in enumerate(tasks if isinstance(tasks, list) else []):
        tid = task.get("id") if isinstance(task, Mapping) else None
        if not isinstance(tid, str):
            continue
        if tid in seen:
            issues.append(Issue(f"tasks[{index}].id", f"duplicate task id '{tid}' (first used by tasks[{seen[tid]}])"))
        else:
            seen[tid] = index
    return issues


def _unknown_dependency_issues(tasks: list[Mapping[str, Any]]) -> list[Issue]:
    """``depends_on`` entries naming no task, located in the 1.x list."""
    ids = [task["id"] for task in tasks]
    issues = []
    for index, task in enumerate(tasks):
        for pos, dep in enumerate(task.get("depends_on") or []):
            if dep not in ids:
                issues.append(Issue(f"tasks[{index}].depends_on[{pos}]", f"unknown task '{dep}'", did_you_mean(dep, ids)))
    return issues


def legacy_issues(doc: Mapping[str, Any], version: str) -> list[Issue]:
    """Every problem of an old document against its own version's schema, duplicate and unknown ids included."""
    from workflow_cli.model.schema import schema_issues

    issues = schema_issues(doc, f"workflow-{version}")
    if issues:
        return issues + duplicate_id_issues(doc.get("tasks"))
    return duplicate_id_issues(doc["tasks"]) + _unknown_dependency_issues(doc["tasks"])


def migrate_document(doc: Mapping[str, Any]) -> tuple[Document, list[str]]:
    """Bring ``doc`` to the current version: the new document and the names of the steps applied.

    Raises:
        InvalidInputError: the version is missing, unknown or newer than this tool, or the document
            breaks its own version's schema (every problem at once, at its path in ``doc``).
    """
    version = document_version(doc)
    if version is None:
        raise InvalidInputError.at("version", "missing or not a string: cannot tell which schema version the document has")
    problem = unsupported_version_issue(version)
    if problem is not None:
        raise InvalidInputError(None, [problem])
    if version == CURRENT_VERSION:
        return copy.deepcopy(dict(doc)), []
    issues = legacy_issues(doc, version)
    if issues:
        raise InvalidInputError(None, sorted(issues, key=lambda issue: issue.path))
    out: Document = dict(doc)
    applied: list[str] = []
    for step in MIGRATIONS[OLD_VERSIONS.index(version):]:
        out = step.apply(out)
        applied.append(step.name)
    return out, applied


def migrate_instance_document(doc: Document, *, where: str = "instance document") -> Document:
    """The document an instance runs, brought in memory to the current version (the same object when current).

    Raises:
        StateError: the document is newer than this tool, of an unknown version, or an old one that
            cannot be migrated (named by ``where``, usually the file path).
    """
    version = document_version(doc)
    if version is None or version == CURRENT_VERSION:
        return doc
    try:
        return migrate_document(doc)[0]
    except InvalidInputError as exc:
        raise StateError(f"{where}: cannot read the instance's {version} document: {exc}") from exc


@dataclass(frozen=True)
class FormatStep:
    """One step of an instance file's own format: a record of format ``source`` becomes ``source + 1``."""

    source: int
    apply: Callable[[Mapping[str, Any]], Document]


FORMAT_KEYS: dict[str, str] = {"instance.json": "format", "state.json": "format", "events.jsonl": "v"}
FORMAT_STEPS: dict[str, tuple[FormatStep, ...]] = {"instance.json": (), "state.json": (), "events.jsonl": ()}


def record_format(file: str, record: Mapping[str, Any]) -> int | None:
    """The format number a record of ``file`` carries (header, snapshot or one event), or None."""
    value = record.get(FORMAT_KEYS[file])
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def migrate_format(file: str, record: Mapping[str, Any], *, current: int) -> tuple[Document, list[str]]:
    """Bring one record of ``file`` to format ``current``: the new record and the steps applied.

    Raises:
        StateError: the format is missing, newer than ``current``, or has no step to the next one.
    """
    found = record_format(file, record)
    if found is None:
        raise StateError(f"{file}: the record has no '{FORMAT_KEYS[file]}' format number")
    if found > current:
        raise StateError(f"{file}: format {found} was written by a newer release of workflow-cli (this one reads up to {current})")
    steps = {step.source: step for step in FORMAT_STEPS[file]}
    out, applied = dict(record), []
    while found < current:
        if found not in steps:
            raise StateError(f"{file}: no migration from format {found} (this release reads format {current})")
        out = steps[found].apply(out)
        out[FORMAT_KEYS[file]] = found + 1
        applied.append(f"{file} format {found} -> {found + 1}")
        found += 1
    return out, applied
