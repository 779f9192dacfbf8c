"""``emit``: broadcast an event by name (and key) to every instance waiting for it (SPEC 6.4, 8).

An event is a signal without an instance id. Every unfinished instance of the home (of one template,
with ``--template``) that has a ``wait`` task for signal NAME gets it once:

- a wait that is waiting now takes it when its key matches (an event without a key matches every
  wait of its name; a keyed event only waits with that key);
- a wait that has not started yet (its task is pending) gets it buffered, as a ``signal`` sent
  before its wait is, when its key is known now (no key, or one fixed at create from parameters)
  and matches; a key that depends on the run (outputs, variables) is known only once the wait
  starts, so only an event without a key reaches that instance early.

Delivery goes through each instance's request folder, as ``signal`` does: its live runner takes it,
or (no runner) this process applies it under the instance's lock and continues the run unless told
not to. Each event has an id recorded with it, so a request read twice (a crash between its record
and its removal) or two emits racing for one instance never wake one wait twice.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from workflow_cli.errors import InvalidInputError, StateError
from workflow_cli.store.home import Home
from workflow_cli.store.instances import InstancePaths, instance_dirs, load_state, read_document

TERMINAL = ("completed", "failed", "cancelled")
NOT_STARTED = ("pending", "running")  # a wait task that has not started waiting yet (running: it is starting now)


@dataclass(frozen=True)
class Candidate:
    """An instance an event may reach, and the wait tasks that want it."""

    paths: InstancePaths
    status: str
    tasks: tuple[str, ...]


def new_event_id() -> str:
    """A unique, time-sortable id for one broadcast event."""
    return f"ev-{time.time_ns():020d}-{os.getpid()}-{os.urandom(4).hex()}"


def is_static(value: Any) -> bool:
    """Whether ``value`` is final in a resolved document (no placeholder left for the run to fill in)."""
    return not (isinstance(value, str) and ("{{" in value or "{%" in value))


def signal_waits(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The ``wait`` tasks of a (resolved) document that wait for a signal: task, signal name, key, key known."""
    waits = []
    for tid, spec in (document.get("tasks") or {}).items():
        params = spec.get("parameters") if isinstance(spec, Mapping) else None
        if not isinstance(params, Mapping) or spec.get("action") != "wait" or params.get("signal") is None:
            continue
        key = params.get("key")
        waits.append({"task": tid, "signal": params["signal"], "key": key, "key_known": is_static(key)})
    return waits


def _wants(wait: Mapping[str, Any], task: Mapping[str, Any], name: str, key: str | None) -> bool:
    """Whether the wait task (``task``: its state) wants event ``name``/``key`` now or when it starts."""
    from workflow_cli.actions.wait import key_matches

    status = task.get("status")
    if status == "waiting":
        waiting = task.get("waiting") or {}
        return waiting.get("kind") == "signal" and waiting.get("name") == name and key_matches(key, waiting.get("key"))
    if status not in NOT_STARTED or wait["signal"] != name:  # a signal name set by an expression is seen once waiting
        return False
    return key is None or (wait["key_known"] and key_matches(key, wait["key"]))


def _unfinished(home: Home, template: str | None) -> Iterator[tuple[InstancePaths, dict[str, Any]]]:
    """Every unfinished instance (of ``template``) with its state, oldest first.

    The one place that finds them: the home's sqlite index names the unfinished instances (its rows
    of finished ones are trusted and never read), and each one's files are read (and its row healed
    when they disagree); without an index (``WORKFLOW_CLI_INDEX=off``, an unreadable file) the
    instances folder is scanned.
    """
    from workflow_cli.store.indexed import open_index, unfinished_rows, verified

    conn = open_index(home, write=True)
    if conn is None:
        yield from _scan(home, template)
        return
    stored = {i: row for i, row in unfinished_rows(conn).items() if template is None or row["template"] == template}
    for checked in verified(home, conn, sorted(stored), stored):
        state = checked.state
        if state is not None and state["status"] not in TERMINAL:
            yield checked.paths, state


def _scan(home: Home, template: str | None) -> Iterator[tuple[InstancePaths, dict[str, Any]]]:
    """Every unfinished instance (of ``template``), reading every instance folder."""
    for paths in instance_dirs(home.instances):
        try:
            state = load_state(paths)
        except (StateError, OSError, ValueError):
            continue  # a damaged instance takes no events; `list` and `health` report it
        if state["status"] in TERMINAL or (template is not None and state.get("template") != template):
            continue
        yield paths, state


def candidates(home: Home, name: str, key: str | None, template: str | None) -> list[Candidate]:
    """The instances event ``name`` (with ``key``) reaches, oldest first."""
    found = []
    for paths, state in _unfinished(home, template):
        try:
            waits = signal_waits(read_document(paths))
        except (StateError, OSError, ValueError):
            continue
        tasks = tuple(w["task"] for w in waits if _wants(w, state["tasks"].get(w["task"]) or {}, name, key))
        if tasks:
            found.append(Candidate(paths, state["status"], tasks))
    return found


def _parse_key(key: Any) -> str | None:
    from workflow_cli.actions.wait import wait_key

    if key is not None and (isinstance(key, bool) or not isinstance(key, (str, int, float))):
        raise InvalidInputError.at("--key", "must be a string or a number")
    return wait_key(key)


def emit_event(home: Home, name: str, *, key: Any = None, template: str | None = None, data: Any = None,
               continue_run: bool = True, sink: Callable[[dict], None] | None = None,
               event_id: str | None = None) -> dict[str, Any]:
    """Deliver event ``name`` once to every instance waiting for it; ``data`` is the JSON payload (already parsed)."""
    from workflow_cli.ops.decide import deliver_request

    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError.at("NAME", "an event needs a name")
    key = _parse_key(key)
    event = event_id or new_event_id()
    request = {"name": name, "payload": data, "event": event}
    if key is not None:
        request["key"] = key
    reached = []
    for cand in candidates(home, name, key, template):
        outcome = deliver_request(home, cand.paths, "signal", request, continue_run=continue_run, sink=sink, status=cand.status)
        if outcome.get("too_late"):  # it finished before the event came: nothing waits for it there any more
            continue
        row = {"id": cand.paths.id, "tasks": list(cand.tasks), "handed_to_runner": outcome["handed_to_runner"]}
        if "status" in outcome:
            row["status"] = outcome["status"].get("status") if isinstance(outcome["status"], Mapping) else outcome["status"]
        elif outcome.get("queued"):
            row["status"] = outcome["instance_status"]
        reached.append(row)
    return {"event": event, "name": name, "key": key, "template": template, "reached": reached}
