"""What ``workflow-cli agents [list | show ID]`` reports: definitions, load and recent success rate."""

from __future__ import annotations

from typing import Any

from workflow_cli.agents.registry import AgentSpec, load_agents, select_agent
from workflow_cli.agents.stats import current_load, recent_stats
from workflow_cli.store.home import Home


def _row(agent: AgentSpec, stats: dict[str, dict[str, Any]], load: dict[str, int]) -> dict[str, Any]:
    seen = stats.get(agent.id, {})
    return {**agent.summary(), "success_rate": seen.get("success_rate"), "calls": seen.get("calls", 0),
            "avg_seconds": seen.get("avg_seconds"), "load": load.get(agent.id, 0)}


def list_agents(home: Home) -> list[dict[str, Any]]:
    """Every built-in and home agent, by id, with its load now and its last 50 calls' success rate."""
    agents = load_agents(home.root)
    stats, load = recent_stats(home.root), current_load(home.root)
    return [_row(agents[agent_id], stats, load) for agent_id in sorted(agents)]


def _connection(agent: AgentSpec) -> dict[str, Any]:
    """How the agent is reached; header and environment values are hidden (they often hold secrets)."""
    from workflow_cli.agents.http_agent import safe_url

    out: dict[str, Any] = {"timeout_seconds": agent.timeout_seconds}
    if agent.command is not None:
        out["command"] = agent.command if isinstance(agent.command, str) else list(agent.command)
    if agent.callable:
        out["callable"] = agent.callable
    if agent.url:
        out["url"] = safe_url(agent.url)
    if agent.headers:
        out["headers"] = {name: "***" for name in agent.headers}
    if agent.env:
        out["env"] = {name: "***" for name in agent.env}
    return out


def _mailbox(home: Home, agent: AgentSpec) -> dict[str, Any]:
    """Inbox and outbox folders and how many payloads await a reply."""
    base = home.root / "agents" / agent.id
    inbox, outbox = base / "inbox", base / "outbox"
    pending = [p.name for p in sorted(inbox.glob("*.json")) if not (outbox / p.name).exists()] if inbox.is_dir() else []
    return {"inbox": str(inbox), "outbox": str(outbox), "pending": pending}


def show_agent(home: Home, agent_id: str) -> dict[str, Any]:
    """One agent in detail (NotFoundError, exit 4, when unknown)."""
    agents = load_agents(home.root)
    agent = select_agent(agents, agent_id=agent_id)
    info = _row(agent, recent_stats(home.root), current_load(home.root))
    info.update(_connection(agent))
    if agent.kind == "mailbox":
        info["mailbox"] = _mailbox(home, agent)
    return info
