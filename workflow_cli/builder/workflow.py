"""The :class:`Workflow` builder (SPEC 10): workflows written in Python, as plain documents.

Example::

    from workflow_cli import Workflow

    wf = Workflow("nightly", params={"day": str})
    extract = wf.command("extract", ["./extract.sh", wf.param("day")], timeout_seconds=600)
    transform = wf.python("transform", "etl:transform", kwargs={"path": extract.outputs["path"]}, retry=3)
    wf.approval("sign_off", approvers=["ann"], after=[transform])

    wf.save("nightly.json")                          # a template like any other
    final = wf.run_sync(params={"day": "2026-12-01"})  # create and run it; the status --json document

A task that reads another task's outputs or status depends on it without ``after=``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from workflow_cli.builder.deps import reads, referenced_tasks
from workflow_cli.builder.expr import Expr
from workflow_cli.builder.fields import (
    check_keywords,
    parameter_declaration,
    plain,
    task_field_names,
    task_fields,
    workflow_field_names,
)
from workflow_cli.builder.handles import TaskHandle
from workflow_cli.builder.kinds import TaskKinds
from workflow_cli.errors import InvalidInputError, did_you_mean

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from workflow_cli.builder.fields import ExprLike, WorkflowFields

TASK_ID = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
DOCUMENT_VERSION = "2.0.0"


class Workflow(TaskKinds):
    """A workflow document built in Python; every method mirrors a field of the document (SPEC 3)."""

    def __init__(self, name: str, *, params: Mapping[str, Any] | None = None, **fields: Unpack[WorkflowFields]) -> None:
        if not isinstance(name, str) or not name.strip():
            raise TypeError("Workflow() needs a non-empty name")
        if "parameters" in fields:
            raise TypeError("Workflow() takes the parameter declarations as params=, not parameters=")
        check_keywords("Workflow()", fields, workflow_field_names())
        self.name = name
        self._top: dict[str, Any] = {k: plain(v, k) for k, v in fields.items() if v is not None}
        self._params = {str(n): parameter_declaration(str(n), v) for n, v in (params or {}).items()}
        self._tasks: dict[str, dict[str, Any]] = {}
        self._after: dict[str, list[str]] = {}
        self._handles: dict[str, TaskHandle] = {}
        self._reads: dict[str, tuple[frozenset[str], bool]] = {}

    def __repr__(self) -> str:
        return f"<Workflow {self.name!r}: {len(self._tasks)} tasks>"

    def __getitem__(self, task_id: str) -> TaskHandle:
        """The handle of a task added earlier (KeyError with a "did you mean" otherwise)."""
        if task_id not in self._handles:
            raise KeyError(f"no task '{task_id}'" + _hint(task_id, self._handles))
        return self._handles[task_id]

    @property
    def task_ids(self) -> tuple[str, ...]:
        """Task ids in the order they were added."""
        return tuple(self._tasks)

    def param(self, name: str) -> Expr:
        """A declared parameter: renders to ``{{ params.<name> }}``; an undeclared name raises at once."""
        if name not in self._params:
            raise InvalidInputError.at(f"params.{name}", f"unknown parameter 'params.{name}'",
                                       did_you_mean(name, list(self._params)) or "declare it in Workflow(params=...)")
        return Expr("params")[name]

    def var(self, name: str) -> Expr:
        """A workflow variable (``variables`` or a task's ``set_vars``): ``{{ vars.<name> }}``."""
        return Expr("vars")[name]

    @property
    def item(self) -> Expr:
        """The current item of a ``foreach`` task (``{{ item }}``)."""
        return Expr("item")

    @property
    def index(self) -> Expr:
        """The index of the current item of a ``foreach`` task (``{{ index }}``, from 0)."""
        return Expr("index")

    def foreach(self, over: ExprLike | TaskHandle | Sequence[Any], *, max_parallel: int | None = None,
                tolerated_failures: int | str | None = None) -> ForEach:
        """Tasks made through the returned object run once per item of ``over`` (see :class:`ForEach`)."""
        fields = {"foreach": over, "foreach_max_parallel": max_parallel, "foreach_tolerated_failures": tolerated_failures}
        task_fields(fields, "foreach")  # a bad value raises here, not on the first task
        return ForEach(self, {k: v for k, v in fields.items() if v is not None})

    def _add(self, where: str, task_id: str, spec: dict[str, Any], fields: Mapping[str, Any]) -> TaskHandle:
        self._check_new_id(task_id)
        check_keywords(f"Workflow.{where}", fields, task_field_names())
        after = self._dependencies(task_id, [*_listed(fields.get("after")), *_listed(fields.get("dependencies"))])
        task = {**plain(spec, f"tasks.{task_id}"), **task_fields(fields, f"tasks.{task_id}")}
        if "retry_count" in task and isinstance(task.get("retry"), Mapping):
            raise TypeError(f"Workflow.{where}: give retry as a number or as a mapping, not with retry_count")
        self._tasks[task_id] = task
        self._after[task_id] = after
        # what handles and expressions read is known now; strings naming tasks are parsed in document()
        self._reads[task_id] = reads([spec, {k: v for k, v in fields.items() if k not in ("after", "dependencies")}])
        handle = TaskHandle(task_id, spec["action"], self)
        self._handles[task_id] = handle
        return handle

    def _check_new_id(self, task_id: str) -> None:
        if not isinstance(task_id, str):
            raise TypeError(f"a task id is a string, not {type(task_id).__name__}")
        if not TASK_ID.match(task_id):
            raise InvalidInputError.at(f"tasks.{task_id}", f"invalid task id '{task_id}' "
                                       "(letters, digits, _ and -; must not start with a digit or -)")
        if task_id in self._tasks:
            raise InvalidInputError.at(f"tasks.{task_id}", f"duplicate task id '{task_id}'")

    def _dependencies(self, task_id: str, given: list[Any]) -> list[str]:
        ids: list[str] = []
        for i, dep in enumerate(given):
            if isinstance(dep, TaskHandle):
                if not dep.belongs_to(self):
                    raise ValueError(f"tasks.{task_id}.dependencies[{i}]: task '{dep.id}' belongs to another Workflow")
                dep_id = dep.id
            elif isinstance(dep, str):
                dep_id = dep
            else:
                raise TypeError(f"tasks.{task_id}.dependencies[{i}]: expected a task handle or id, not {type(dep).__name__}")
            if dep_id not in self._tasks:
                raise InvalidInputError.at(f"tasks.{task_id}.dependencies[{i}]", f"unknown task '{dep_id}'",
                                           did_you_mean(dep_id, list(self._tasks)))
            if dep_id not in ids:
                ids.append(dep_id)
        return ids

    def document(self, *, validate: bool = True, home: str | Path | None = None) -> dict[str, Any]:
        """The plain document (a fresh copy); validated like ``workflow-cli validate`` unless ``validate=False``.

        Raises:
            InvalidInputError: every problem ``validate`` would report, with the same paths and messages.
        """
        doc: dict[str, Any] = {"version": DOCUMENT_VERSION, "name": self.name, **plain(self._top, "")}
        if self._params:
            doc["parameters"] = plain(self._params, "parameters")
        tasks: dict[str, Any] = {}
        for tid, spec in self._tasks.items():
            task = plain(spec, f"tasks.{tid}")
            known, parse = self._reads[tid]
            read = known | frozenset(referenced_tasks(task) if parse else ())
            implied = [t for t in self._tasks if t in read and t != tid]  # in the order tasks were added
            deps = list(dict.fromkeys([*self._after[tid], *implied]))
            tasks[tid] = _with_dependencies(task, deps)
        doc["tasks"] = tasks
        if validate:
            _validate(doc, home)
        return doc

    def save(self, path: str | Path, *, home: str | Path | None = None) -> Path:
        """Write the validated document as JSON (``.json``) or YAML (``.yaml``, ``.yml``); returns the path."""
        from workflow_cli.store.atomic import write_bytes_atomic

        target = Path(path).expanduser()
        suffix = target.suffix.lower()
        if suffix not in (".json", ".yaml", ".yml"):
            raise ValueError(f"{target}: save as .json, .yaml or .yml")
        doc = self.document(home=home)
        if suffix == ".json":
            import json

            text = json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
        else:
            import yaml

            text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
        write_bytes_atomic(target, text.encode("utf-8"), mode=0o644)
        return target

    def run_sync(self, params: Mapping[str, Any] | None = None, *, home: str | Path | None = None,
                 name: str | None = None, max_parallel: int | None = None) -> dict[str, Any]:
        """Create an instance in ``home`` and run it in the foreground; returns the ``status --json`` document.

        The run ends as ``workflow-cli run`` does: completed, failed, waiting (an approval, a signal, a
        long timer: continue it with ``resume``), paused or cancelled; look at ``result["status"]``.
        """
        from workflow_cli.ops.create import create_instance
        from workflow_cli.ops.run import start
        from workflow_cli.store.home import Home, resolve_home

        where = Home(resolve_home(str(Path(home).expanduser()) if home is not None else None)).ensure()
        doc = self.document(home=where.root)
        created = create_instance(where, self.name, overrides=params, name=name, document=doc)
        return start(where, created.id, max_parallel=max_parallel).status

    async def run(self, params: Mapping[str, Any] | None = None, *, home: str | Path | None = None,
                  name: str | None = None, max_parallel: int | None = None) -> dict[str, Any]:
        """:meth:`run_sync` in a worker thread, so the event loop stays free."""
        return await asyncio.to_thread(self.run_sync, params, home=home, name=name, max_parallel=max_parallel)


class ForEach(TaskKinds):
    """Makes tasks that run once per item: ``wf.foreach(files.result, max_parallel=4).command(...)``.

    Inside, ``each.item`` and ``each.index`` (or ``wf.item``, ``wf.index``) name the current item.

    >>> wf = Workflow("thumbs", params={"images": list})
    >>> each = wf.foreach(wf.param("images"), max_parallel=4, tolerated_failures="10%")
    >>> each.command("resize", ["convert", each.item, "-resize", "50%", f"small-{each.index}.png"])
    <task 'resize' (command)>
    """

    def __init__(self, workflow: Workflow, fields: dict[str, Any]) -> None:
        self._workflow = workflow
        self._fields = fields
        self.item = workflow.item
        self.index = workflow.index

    def _add(self, where: str, task_id: str, spec: dict[str, Any], fields: Mapping[str, Any]) -> TaskHandle:
        clash = sorted(set(fields) & {"foreach", "foreach_max_parallel", "foreach_tolerated_failures"})
        if clash:
            raise TypeError(f"{where}: '{clash[0]}' is set by foreach(); pass it there")
        return self._workflow._add(where, task_id, spec, {**fields, **self._fields})


def _with_dependencies(task: dict[str, Any], deps: list[str]) -> dict[str, Any]:
    """``task`` with ``dependencies`` right after its action part (documents read better that way)."""
    if not deps:
        return task
    out: dict[str, Any] = {}
    for key, value in task.items():
        out[key] = value
        if key == "parameters" or (key == "action" and "parameters" not in task):
            out["dependencies"] = deps
    out.setdefault("dependencies", deps)
    return out


def _listed(value: Any) -> list[Any]:
    """``after=`` takes one handle or id as well as a list of them."""
    if value is None:
        return []
    return [value] if isinstance(value, (TaskHandle, str)) else list(value)


def _hint(word: str, choices: Mapping[str, Any]) -> str:
    hint = did_you_mean(word, list(choices))
    return f" ({hint})" if hint else ""


def _validate(doc: dict[str, Any], home: str | Path | None) -> None:
    """The ``validate`` checks (schema, graph, rules, expressions, agents); raise them all at once."""
    from workflow_cli.ops.validation import validate_document
    from workflow_cli.store.home import Home, resolve_home

    where = Home(resolve_home(str(Path(home).expanduser()) if home is not None else None))
    result = validate_document(where, doc, origin="<builder>")
    if result.errors:
        raise InvalidInputError(None, list(result.errors))

