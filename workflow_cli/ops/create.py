"""``create``: validate a template or file, resolve its parameters, write an instance in ``created``."""

from __future__ import annotations

import getpass
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Mapping, Sequence
from typing import Any

from workflow_cli.errors import InvalidInputError
from workflow_cli.model.document import Workflow
from workflow_cli.ops.sources import LoadedSource, load_source
from workflow_cli.store.home import Home
from workflow_cli.templates.params import ResolvedParams, resolve_params


@dataclass(frozen=True)
class Prepared:
    """A validated document with its resolved parameters, ready to become an instance."""

    source: LoadedSource
    workflow: Workflow
    params: ResolvedParams
    document: dict[str, Any]
    schema_key: str | None = None


@dataclass(frozen=True)
class CreateResult:
    """What ``create`` reports (SPEC 8 ``--json`` shape)."""

    id: str
    status: str
    template: str
    params: dict[str, Any]
    name: str = ""
    path: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "status": self.status, "template": self.template, "params": self.params, "name": self.name}


def load_params_file(path: str | None) -> dict[str, Any]:
    """Values from ``--params-file`` (JSON or YAML mapping)."""
    if path is None:
        return {}
    if not path.strip():
        raise InvalidInputError.at("--params-file", "the file name is empty", "name a JSON or YAML file")
    from workflow_cli.model.loader import load_file

    values = load_file(Path(path), what="params")
    if not isinstance(values, dict):
        raise InvalidInputError.at(str(path), "a params file must hold a mapping of name to value")
    return values


def prepare(
    home: Home,
    source_arg: str,
    *,
    cli_pairs: Sequence[str] = (),
    params_file: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    document: Mapping[str, Any] | None = None,
) -> Prepared:
    """Load (or take ``document`` as given), validate and parametrise; raises every problem at once."""
    from workflow_cli.ops.document_checks import check_document
    from workflow_cli.templates.resolve import resolve_document

    if document is not None:
        import copy

        source = LoadedSource(copy.deepcopy(dict(document)), str(document.get("id") or source_arg), "api")
    else:
        source = load_source(home, source_arg)
    from workflow_cli.ops.schema_cache import document_key, passed_before

    known = _known_actions(source.document)
    key = document_key(source.document)
    workflow = check_document(source.document, known_actions=known, schema_checked=passed_before(home, key))
    _check_agents(home, source.document)
    params = resolve_params(
        workflow.parameters, file_values=load_params_file(params_file), cli_pairs=cli_pairs, overrides=overrides
    )
    document = resolve_document(source.document, params)
    if document != source.document:
        # checks skipped while a value was still a {{ }} placeholder apply to what the instance will run
        check_document(document, known_actions=known)
        _check_agents(home, document, source.document)
    return Prepared(source, workflow, params, document, key)


def _check_agents(home: Home, document: Mapping[str, Any], template: Mapping[str, Any] | None = None) -> None:
    """An unknown agent id, also one given through a parameter, is a validation error listing the known agents (SPEC 6.3)."""
    if not _names_agents(document) and "agents" not in document and not home.agents_file.exists():
        return  # nothing to check (and the agent registry need not be loaded)
    from workflow_cli.agents.registry import agent_issues

    issues = agent_issues(home, document, template)
    if issues:
        raise InvalidInputError(None, issues)


def _names_agents(document: Mapping[str, Any]) -> bool:
    """Whether the document names an agent anywhere an agent id can be given (defaults or a task)."""
    tasks = document.get("tasks")
    parts = [document.get("defaults"), *(tasks.values() if isinstance(tasks, Mapping) else ())]
    return any(isinstance(p, Mapping) and (p.get("agent_id") or p.get("fallback_agent")) for p in parts)


def _known_actions(document: Mapping[str, Any] | None = None) -> list[str]:
    """Action names a document may use: the SPEC's, plus any installed plugin (looked for only when the
    document names an action that is not a built-in one)."""
    from workflow_cli.actions import registry
    from workflow_cli.model.document import ACTION_NAMES

    if document is not None and _used_actions(document) <= set(ACTION_NAMES):
        return list(ACTION_NAMES)
    return sorted(set(ACTION_NAMES) | set(registry().names()))


def base_directory(workdir: str | Path | None) -> str:
    """The absolute base directory of a new instance: ``--workdir`` (exit 2 unless a readable folder), else the cwd."""
    import os

    if workdir is None:
        try:
            return os.getcwd()
        except FileNotFoundError as exc:
            raise InvalidInputError.at("--workdir", "the current directory no longer exists; give one with --workdir") from exc
    path = Path(os.path.abspath(os.path.expanduser(str(workdir))))
    if not path.is_dir():
        raise InvalidInputError.at("--workdir", f"{path} is not an existing directory")
    if not os.access(path, os.R_OK | os.X_OK):
        raise InvalidInputError.at("--workdir", f"{path} is not readable")
    return str(path)


def _used_actions(document: Mapping[str, Any]) -> set[object]:
    """The ``action`` values written in a document's tasks and their ``compensate`` blocks (unchecked)."""
    tasks = document.get("tasks")
    used: set[object] = set()
    for task in tasks.values() if isinstance(tasks, Mapping) else ():
        for part in (task, task.get("compensate")) if isinstance(task, Mapping) else ():
            if isinstance(part, Mapping) and "action" in part:
                used.add(part["action"])
    return used


def current_user() -> str:
    """The OS user, for the actor of events."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def create_instance(
    home: Home,
    source_arg: str,
    *,
    cli_pairs: Sequence[str] = (),
    params_file: str | None = None,
    overrides: Mapping[str, Any] | None = None,
    name: str | None = None,
    parent: Mapping[str, Any] | None = None,
    clock: Any = None,
    document: Mapping[str, Any] | None = None,
    trigger: Mapping[str, Any] | None = None,
    workdir: str | Path | None = None,
) -> CreateResult:
    """Make an instance in ``created``; nothing is written unless everything is valid.

    ``workdir``: the instance's base directory (SPEC 6.2; default the current directory).
    """
    from workflow_cli.clock import SystemClock
    from workflow_cli.store.ids import new_instance_id
    from workflow_cli.store.instances import create_instance_dir

    base_dir = base_directory(workdir)
    prepared = prepare(home, source_arg, cli_pairs=cli_pairs, params_file=params_file, overrides=overrides, document=document)
    clock = clock or SystemClock()
    home.ensure()
    now = clock.time()
    from datetime import datetime, timezone

    instance_id = new_instance_id(datetime.fromtimestamp(now, tz=timezone.utc))
    public = prepared.params.public()
    header = {
        "id": instance_id,
        "name": name or prepared.workflow.name,
        "template": prepared.source.template,
        "source": prepared.source.origin,
        "created_at": clock.now_iso(),
        "params": public,
        "secret_names": sorted(prepared.params.secret_names),
        "vars": dict(prepared.workflow.variables),
        "parent": dict(parent) if parent else None,
        "trigger": dict(trigger) if trigger else None,  # SPEC 18.3: what started a triggered run
        "base_dir": base_dir,
    }
    paths = create_instance_dir(
        home.instances,
        instance_id,
        header=header,
        document=prepared.document,
        secrets=prepared.params.secrets(),
        created_event={"template": header["template"], "name": header["name"], "params": public},
        checkpoints=home.checkpoints / instance_id,
    )
    from workflow_cli.ops.schema_cache import remember

    remember(home, prepared.schema_key)
    return CreateResult(instance_id, "created", header["template"], public, header["name"], str(paths.root))
