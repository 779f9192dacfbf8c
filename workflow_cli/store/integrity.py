"""Checks that an instance's files agree in shape and with each other (SPEC 16: damaged state is reported).

Each check raises :class:`StateError` naming the file and a way out; none of them changes a file. The
event log is the truth: ``state.json`` is a cache of it, the checkpoint index (``checkpoints.jsonl``)
is derived from its ``checkpoint.created`` events, and ``instance.json``/``workflow.json`` are written
once at create time.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Mapping

from workflow_cli.errors import StateError
from workflow_cli.model.states import InstanceState, TaskState
from workflow_cli.store.events import LogSummary

_INSTANCE_STATUSES = frozenset(s.value for s in InstanceState)
_TASK_STATUSES = frozenset(s.value for s in TaskState)
_STATE_TYPES: dict[str, tuple[type, ...]] = {
    "format": (int,), "id": (str,), "status": (str,), "last_seq": (int,), "tasks": (dict,),
    "params": (dict,), "vars": (dict,), "checkpoints": (list,), "completion_order": (list,), "children": (list,),
}
_TASK_TYPES: dict[str, tuple[type, ...]] = {"status": (str,), "attempts": (int,), "history": (list,)}
_HEADER_TYPES: dict[str, tuple[type, ...]] = {"format": (int,), "id": (str,), "params": (dict,)}


def _wrong_type(doc: Mapping[str, Any], types: Mapping[str, tuple[type, ...]]) -> str | None:
    for key, allowed in types.items():
        value = doc.get(key)
        if key in doc and (not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed)):
            return f"field '{key}' is {type(value).__name__} {value!r:.40}, expected {'/'.join(t.__name__ for t in allowed)}"
    return None


def check_header(header: Any, path: Path, instance_id: str) -> dict[str, Any]:
    """A well-formed ``instance.json`` of ``instance_id``."""
    way_out = f"restore it from a backup, or remove the instance folder {path.parent}"
    if not isinstance(header, dict):
        raise StateError(f"{path}: corrupt instance header: not an object; {way_out}")
    problem = _wrong_type(header, _HEADER_TYPES)
    if problem is None and header.get("id") != instance_id:
        problem = f"it names instance {header.get('id')!r}, not {instance_id!r}"
    if problem:
        raise StateError(f"{path}: corrupt instance header: {problem}; {way_out}")
    return header


def check_document(doc: Any, path: Path) -> dict[str, Any]:
    """A resolved document whose ``tasks`` is an object of task objects."""
    way_out = f"restore it from a backup, or remove the instance folder {path.parent}"
    tasks = doc.get("tasks") if isinstance(doc, dict) else None
    if not isinstance(tasks, dict) or not tasks:
        raise StateError(f"{path}: corrupt instance document: 'tasks' must be a non-empty object; {way_out}")
    for tid, spec in tasks.items():
        if not isinstance(spec, dict):
            raise StateError(f"{path}: corrupt instance document: task '{tid}' is {type(spec).__name__}, not an object; {way_out}")
    checked: dict[str, Any] = doc
    return checked


def check_state(state: Any, path: Path) -> dict[str, Any]:
    """A snapshot whose fields have the types the engine reads."""
    way_out = f"delete {path} to rebuild it from the event log"
    if not isinstance(state, dict) or "last_seq" not in state:
        raise StateError(f"{path}: corrupt state snapshot; {way_out}")
    problem = _wrong_type(state, _STATE_TYPES)
    if problem is None and state.get("status") not in _INSTANCE_STATUSES:
        problem = f"unknown status {state.get('status')!r:.40}"
    if problem is None and state["last_seq"] < 0:
        problem = f"negative last_seq {state['last_seq']}"
    for tid, task in (state.get("tasks") or {}).items() if problem is None else ():
        problem = f"task '{tid}' is not an object" if not isinstance(task, dict) else _wrong_type(task, _TASK_TYPES)
        if problem is None and task.get("status") not in _TASK_STATUSES:
            problem = f"task '{tid}' has the unknown status {task.get('status')!r:.40}"
        if problem:
            break
    if problem:
        raise StateError(f"{path}: corrupt state snapshot: {problem}; {way_out}")
    return state


def check_against_log(state: Mapping[str, Any], log: LogSummary, snapshot: Path | None, events: Path) -> None:
    """The snapshot is not ahead of the log, the log is not empty, and every task it names exists."""
    if log.last_seq == 0:
        raise StateError(f"{events}: the event log is empty (an instance's log starts with workflow.created); "
                         "restore it from a backup, or remove the instance folder")
    if snapshot is not None and state["last_seq"] > log.last_seq:
        raise StateError(
            f"{events}: the event log ends at event {log.last_seq} but {snapshot} records {state['last_seq']}: "
            f"events were lost; restore {events.name} from a backup, or delete {snapshot.name} to go on from the "
            "log as it is (what the lost events recorded is forgotten)")
    unknown = sorted(log.tasks - set(state["tasks"]))
    if unknown:
        raise StateError(f"{events}: events name the task(s) {', '.join(map(repr, unknown[:5]))}, which the instance's "
                         "document does not have; restore the log from a backup, or remove the instance folder")


def check_tasks_match(state: Mapping[str, Any], doc: Mapping[str, Any], snapshot: Path, document: Path) -> None:
    """The snapshot has exactly the document's tasks."""
    if set(state["tasks"]) != set(doc["tasks"]):
        extra = sorted(set(state["tasks"]) ^ set(doc["tasks"]))
        raise StateError(f"{snapshot}: its tasks differ from those of {document} ({', '.join(extra[:5])}); "
                         f"delete {snapshot} to rebuild it from the event log")


def _index_lines(index: Path) -> list[bytes] | None:
    """The whole lines of the index (None: no index); a line still being written at the end is left out."""
    try:
        raw = index.read_bytes()
    except FileNotFoundError:
        return None
    return raw.split(b"\n")[:-1]  # the last piece is b"" or an unterminated append in progress


def _entry(line: bytes, index: Path, lineno: int) -> dict[str, Any]:
    try:
        entry = json.loads(line)
    except ValueError:
        entry = None
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
        raise StateError(f"{index}:{lineno}: corrupt checkpoint index: not a checkpoint entry; {_rebuild_hint(index)}")
    return entry


def read_index(index: Path) -> list[dict[str, Any]] | None:
    """The checkpoint index's entries (None: no index), each checked."""
    lines = _index_lines(index)
    return None if lines is None else [_entry(line, index, n) for n, line in enumerate(lines, 1)]


def _rebuild_hint(index: Path) -> str:
    return (f"rebuild it from the event log with 'workflow-cli checkpoints {index.parent.name} --rebuild-index' "
            "(or restore it from a backup)")


def check_index(index: Path, log: LogSummary) -> None:
    """The index lists the log's checkpoints, in order (entries past the log's end: a write in progress)."""
    lines = _index_lines(index)
    if lines is None:
        if log.checkpoints:
            raise StateError(f"{index}: the checkpoint index is missing but the event log records "
                             f"{len(log.checkpoints)} checkpoint(s); {_rebuild_hint(index)}")
        return
    for position, (seq, cp_id) in enumerate(log.checkpoints):
        line = lines[position] if position < len(lines) else None
        if line is not None and line.startswith(b'{"id":"%s","seq":%d,' % (cp_id.encode(), seq)):
            continue  # the writer's compact form: no need to parse it
        entry = _entry(line, index, position + 1) if line is not None else None
        if entry is not None and entry["id"] == cp_id and entry.get("seq", seq) == seq:
            continue  # an entry of an older release (no seq) or another spelling of the same one
        found = "ends" if entry is None else f"has {entry['id']}"
        raise StateError(f"{index}: the checkpoint index disagrees with the event log (entry {position + 1} "
                         f"should be {cp_id} of event {seq}; the index {found}); {_rebuild_hint(index)}")
    for lineno, line in enumerate(lines[len(log.checkpoints):], len(log.checkpoints) + 1):
        entry = _entry(line, index, lineno)
        if not isinstance(entry.get("seq"), int) or entry["seq"] <= log.last_seq:
            raise StateError(f"{index}: the checkpoint index lists {entry['id']}, which the event log does not "
                             f"record; {_rebuild_hint(index)}")


def cut_index_past(index: Path, last_seq: int) -> None:
    """(writer, instance lock held) Drop index entries a crash left past the log's end."""
    entries = read_index(index)
    if not entries:
        return
    keep = [e for e in entries if not (isinstance(e.get("seq"), int) and e["seq"] > last_seq)]
    if len(keep) != len(entries) or not index.read_bytes().endswith(b"\n"):
        write_index(index, keep)


def write_index(index: Path, entries: list[dict[str, Any]]) -> None:
    """Replace the checkpoint index atomically."""
    from workflow_cli.store.atomic import write_bytes_atomic
    from workflow_cli.store.codec import dumps_lines

    write_bytes_atomic(index, dumps_lines(entries) if entries else b"")
