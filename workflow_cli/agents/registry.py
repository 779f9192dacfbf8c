"""The agent registry: built-in < ``<home>/agents.yaml`` < the document's ``agents`` block (SPEC 6.3).

A later source replaces an agent of the same id as a whole. Definitions are checked against the shipped
``agents`` schema; a problem in ``agents.yaml`` names the file and the path inside it.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Mapping
from typing import Any

from workflow_cli.errors import InvalidInputError, Issue, NotFoundError, did_you_mean

AGENT_KINDS = ("command", "python", "http", "mailbox", "builtin")
SOURCES = ("builtin", "home", "workflow")
# An agent id names a folder (``<home>/agents/<id>/inbox``): no separators, no leading dot.
ID_RULE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@dataclass(frozen=True)
class AgentSpec:
    """One agent definition, wherever it came from."""

    id: str
    kind: str
    command: str | tuple[str, ...] | None = None
    callable: str | None = None
    url: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    type: str | None = None
    capabilities: tuple[str, ...] = ()
    max_concurrent: int | None = None
    timeout_seconds: float | None = None
    env: Mapping[str, str] = field(default_factory=dict)
    description: str = ""
    source: str = "builtin"

    def summary(self) -> dict[str, Any]:
        """The ``agents --json`` fields that describe the definition (no secrets: header values are left out)."""
        return {
            "id": self.id,
            "kind": self.kind,
            "type": self.type,
            "capabilities": list(self.capabilities),
            "max_concurrent": self.max_concurrent,
            "source": self.source,
            "description": self.description,
        }


def spec_from_mapping(agent_id: str, raw: Mapping[str, Any], source: str) -> AgentSpec:
    """An AgentSpec from a definition that passed the schema."""
    command = raw.get("command")
    return AgentSpec(
        id=agent_id,
        kind=str(raw["kind"]),
        command=tuple(str(c) for c in command) if isinstance(command, (list, tuple)) else command,
        callable=raw.get("callable"),
        url=raw.get("url"),
        headers={str(k): str(v) for k, v in (raw.get("headers") or {}).items()},
        type=raw.get("type"),
        capabilities=tuple(str(c) for c in raw.get("capabilities") or ()),
        max_concurrent=raw.get("max_concurrent"),
        timeout_seconds=raw.get("timeout_seconds"),
        env={str(k): str(v) for k, v in (raw.get("env") or {}).items()},
        description=str(raw.get("description") or ""),
        source=source,
    )


def home_root(home: Any) -> Path | None:
    """The folder of a Home, a path (str or Path) or None (a Path's own ``.root`` is "/", hence the care)."""
    if home is None:
        return None
    if isinstance(home, (str, os.PathLike)):
        return Path(home)
    return Path(home.root)


def _checked_block(data: Any, *, prefix: str, source: str) -> dict[str, AgentSpec]:
    """Validate ``{"agents": {...}}`` and build its specs; issue paths start with ``prefix``."""
    from workflow_cli.model.schema import schema_issues

    issues = [Issue(f"{prefix}{i.path}", i.message, i.hint) for i in schema_issues(data, "agents")]
    block = data.get("agents") or {} if isinstance(data, Mapping) else {}
    for agent_id in block if isinstance(block, Mapping) else ():
        if not ID_RULE.match(str(agent_id)):
            issues.append(Issue(f"{prefix}agents.{agent_id}", f"invalid agent id '{agent_id}'",
                                "letters, digits, _, . and -; must not start with . or -"))
    if issues:
        raise InvalidInputError(None, issues)
    return {str(k): spec_from_mapping(str(k), v, source) for k, v in block.items()}


def home_agents(home: Any) -> dict[str, AgentSpec]:
    """The agents of ``<home>/agents.yaml`` ({} when the file is absent or empty)."""
    root = home_root(home)
    if root is None:
        return {}
    path = root / "agents.yaml"
    if not path.is_file():
        return {}
    from workflow_cli.model.loader import parse_text, read_text

    text = read_text(path, what="agents")
    if not text.strip():
        return {}
    try:
        data = parse_text(text, fmt="yaml")
    except InvalidInputError as exc:
        raise InvalidInputError(None, [Issue(f"{path}:{i.path}" if i.path else str(path), i.message, i.hint)
                                       for i in exc.issues]) from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise InvalidInputError.at(str(path), f"expected a mapping with an 'agents' key, got {type(data).__name__}")
    return _checked_block(data, prefix=f"{path}:", source="home")


def builtin_agents() -> dict[str, AgentSpec]:
    """The built-in agents."""
    from workflow_cli.agents.builtin import builtin_specs

    return builtin_specs()


def load_agents(home: Any, workflow_agents: Mapping[str, Any] | None = None) -> dict[str, AgentSpec]:
    """Every agent a task may use: built-in < home ``agents.yaml`` < the document's ``agents`` block."""
    agents = builtin_agents()
    agents.update(home_agents(home))
    if workflow_agents:
        agents.update(_checked_block({"agents": dict(workflow_agents)}, prefix="", source="workflow"))
    return agents


def _known(ids: Any) -> str:
    return ", ".join(sorted(ids)) or "none"


def _hint(name: str, ids: Any) -> str:
    """``did you mean 'x'? known agents: ...``."""
    close = did_you_mean(name, list(ids))
    return f"{close} known agents: {_known(ids)}" if close else f"known agents: {_known(ids)}"


def _unknown(name: str, agents: Mapping[str, AgentSpec], what: str = "agent") -> NotFoundError:
    return NotFoundError(f"unknown {what} '{name}' ({_hint(name, agents)})")


def _matches(agent: AgentSpec, agent_type: str | None, capabilities: tuple[str, ...]) -> bool:
    return (agent_type is None or agent.type == agent_type) and set(capabilities) <= set(agent.capabilities)


def select_agent(
    agents: Mapping[str, AgentSpec],
    *,
    agent_id: str | None = None,
    agent_type: str | None = None,
    capabilities: tuple[str, ...] | list[str] = (),
    fallback: str | None = None,
    load: Mapping[str, int] | None = None,
) -> AgentSpec:
    """The agent for a task: ``agent_id``, else the least-loaded match (ties by id), else ``fallback``.

    Raises:
        NotFoundError: the named agent, or the fallback, does not exist, or nothing matches.
    """
    load = load or {}
    caps = tuple(capabilities)
    if agent_id:
        if agent_id in agents:
            return agents[agent_id]
        if not fallback:
            raise _unknown(agent_id, agents)
    elif agent_type or caps:
        found = [a for a in agents.values() if _matches(a, agent_type, caps)]
        if found:
            return min(found, key=lambda a: (load.get(a.id, 0), a.id))
        if not fallback:
            wanted = f"type '{agent_type}'" if agent_type else "any type"
            if caps:
                wanted += f" with capabilities {', '.join(caps)}"
            types = sorted({a.type for a in agents.values() if a.type})
            raise NotFoundError(f"no agent of {wanted} (agent types: {', '.join(types) or 'none'}); set fallback_agent")
    elif not fallback:
        raise NotFoundError("the task names no agent: set agent_id, agent_type or fallback_agent")
    assert fallback is not None
    if fallback not in agents:
        raise _unknown(fallback, agents, "fallback agent")
    return agents[fallback]


def _document_agents(doc: Any) -> Mapping[str, Any]:
    block = getattr(doc, "agents", None) if not isinstance(doc, Mapping) else doc.get("agents")
    return block if isinstance(block, Mapping) else {}


def known_agent_ids(home: Any, doc: Any = None) -> set[str]:
    """Ids a document may name: built-in, home ``agents.yaml`` (raises InvalidInputError if broken) and its own."""
    ids = set(builtin_agents()) | set(home_agents(home))
    return ids | {str(k) for k in _document_agents(doc)}


def _task_specs(doc: Any) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
    """(defaults, tasks) of a raw document or a Workflow, as raw mappings."""
    raw = doc if isinstance(doc, Mapping) else getattr(doc, "raw", {}) or {}
    defaults, tasks = raw.get("defaults"), raw.get("tasks")
    return (defaults if isinstance(defaults, Mapping) else {}), (tasks if isinstance(tasks, Mapping) else {})


def _agent_places(doc: Any) -> dict[str, Any]:
    """``path -> value`` of every ``agent_id``/``fallback_agent`` of a document (defaults and tasks)."""
    defaults, tasks = _task_specs(doc)
    places = {f"defaults.{k}": defaults.get(k) for k in ("agent_id", "fallback_agent")}
    for tid, spec in tasks.items():
        if isinstance(spec, Mapping):
            places.update({f"tasks.{tid}.{k}": spec.get(k) for k in ("agent_id", "fallback_agent")})
    return places


def agent_issues(home: Any, doc: Any, template: Any = None) -> list[Issue]:
    """One Issue per literal ``agent_id``/``fallback_agent`` naming no known agent (``{{ }}`` values are skipped).

    ``template`` is the document before its parameters were resolved: an agent id that came from a
    parameter is then reported with the placeholder it came from (SPEC 6.3).
    """
    try:
        ids = known_agent_ids(home, doc)
    except InvalidInputError as exc:
        return exc.issues or [Issue("", str(exc))]
    before = _agent_places(template) if template is not None else {}
    issues = []
    for path, value in _agent_places(doc).items():
        if isinstance(value, str) and value and "{{" not in value and value not in ids:
            origin = before.get(path)
            came = f" (from {origin.strip()})" if isinstance(origin, str) and "{{" in origin else ""
            issues.append(Issue(path, f"unknown agent '{value}'{came}", _hint(value, ids)))
    return issues
