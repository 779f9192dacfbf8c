"""Instance folders: the immutable header, the resolved document, secrets and the state snapshot.

Layout of ``instances/<id>/``::

    instance.json   header (format, id, name, template, source, created_at, params with secrets masked)
    workflow.json   the resolved document the instance runs (later template edits do not reach it)
    secrets.json    secret parameter values, encrypted (:mod:`.secret_box`), mode 0600 (only when the template declares secrets)
    events.jsonl    the append-only event log: the source of truth
    state.json      a snapshot of the state folded from the events up to its ``last_seq``
    runner.lock     flock held by the live runner
    logs/           one log per task (made with the task's first line of output)
    workspace/      the tasks' working folder
    requests/       requests from other processes to the live runner
    outputs/        the attempts' ``$WORKFLOW_OUTPUT`` files, removed after each attempt

Everything a run writes into is made at create time, so a run makes no new file but state.json's
replacement and the logs of tasks that print something.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Mapping

from workflow_cli.errors import StateError
from workflow_cli.store.atomic import fsync_dir, read_json, write_all, write_json_atomic
from workflow_cli.store.codec import dumps, dumps_lines
from workflow_cli.clock import utc_now
from workflow_cli.store.events import EVENT_FORMAT, default_actor, summarize_log
from workflow_cli.store.home import Home
from workflow_cli.store.state import apply_event, new_state, replay
from workflow_cli.store.integrity import (
    check_against_log,
    check_document,
    check_header,
    check_index,
    check_state,
    check_tasks_match,
)

HEADER_FORMAT = 1
CURRENT_DOCUMENT_VERSION = "2.0.0"  # model.validate.CURRENT_VERSION (not imported: store stays light)


@dataclass(frozen=True)
class InstancePaths:
    """Where the files of one instance live."""

    root: Path

    id = cached_property(lambda self: self.root.name)  # read several times per attempt

    header = cached_property(lambda self: self.root / "instance.json")
    document = cached_property(lambda self: self.root / "workflow.json")
    secrets = cached_property(lambda self: self.root / "secrets.json")
    events = cached_property(lambda self: self.root / "events.jsonl")
    snapshot = cached_property(lambda self: self.root / "state.json")
    lock = cached_property(lambda self: self.root / "runner.lock")
    logs = cached_property(lambda self: self.root / "logs")
    workspace = cached_property(lambda self: self.root / "workspace")
    requests = cached_property(lambda self: self.root / "requests")
    outputs = cached_property(lambda self: self.root / "outputs")
    # the home's checkpoints/<id>/ folder (instances/<id> -> checkpoints/<id>)
    checkpoints = cached_property(lambda self: self.root.parent.parent / "checkpoints" / self.root.name)
    checkpoint_index = cached_property(lambda self: self.checkpoints / "checkpoints.jsonl")

    def task_log(self, task_id: str) -> Path:
        return Path(f"{self.logs}/{task_id}.log")  # one Path built from a string: cheaper than logs / name


def _write_new(path: Path, data: bytes, *, mode: int = 0o600, sync: bool = True) -> None:
    """Write a new file inside a folder that is not visible yet (no temporary file needed)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        os.fchmod(fd, mode)  # exact mode whatever the umask
        write_all(fd, data)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


def create_instance_dir(
    instances_dir: Path,
    instance_id: str,
    *,
    header: Mapping[str, Any],
    document: Mapping[str, Any],
    secrets: Mapping[str, Any],
    created_event: Mapping[str, Any],
    checkpoints: Path | None = None,
) -> InstancePaths:
    """Write a new instance in a hidden folder, then rename it into place (all or nothing).

    Every folder and file a run appends to is made here (``checkpoints``: the instance's folder under
    ``checkpoints/``, with its empty index): making one is not free, and a run should not pay for it.
    The files are written straight into the hidden folder (it appears whole or not at all), each
    fsynced but ``state.json`` (a cache of the log), then the folder once, then the rename: 4-5
    fsyncs in all. The home's instance index gets the new row before the rename (see store/index.py).
    """
    if secrets:
        from workflow_cli.store.secret_box import seal

        sealed = seal(secrets)  # before anything is written: a key problem leaves the home unchanged
    tmp = instances_dir / f".creating-{instance_id}"
    paths = InstancePaths(tmp)
    made_checkpoints = False
    try:
        tmp.mkdir(mode=0o700)
        os.chmod(tmp, 0o700)
        for sub in (paths.logs, paths.workspace, paths.requests, paths.outputs):
            sub.mkdir(mode=0o700)
        _write_new(paths.lock, b"", sync=False)
        if checkpoints is not None and not checkpoints.exists():
            checkpoints.mkdir(mode=0o700, parents=True)
            made_checkpoints = True
            (checkpoints / "checkpoints.jsonl").touch(mode=0o600)
        _write_new(paths.header, dumps({"format": HEADER_FORMAT, **header}) + b"\n")
        _write_new(paths.document, dumps(dict(document)) + b"\n")
        if secrets:
            _write_new(paths.secrets, dumps(sealed) + b"\n")
        event = {"v": EVENT_FORMAT, "seq": 1, "time": utc_now(), "type": "workflow.created",
                 "actor": default_actor(), "data": dict(created_event)}
        _write_new(paths.events, dumps_lines([event]))
        state = apply_event(new_state(header, list(document["tasks"])), event)  # a fresh state: no copy needed
        _write_new(paths.snapshot, dumps(state) + b"\n", sync=False)
        fsync_dir(tmp)
        index = _index_created(instances_dir, state, document)
        final = instances_dir / instance_id
        os.rename(tmp, final)
        fsync_dir(instances_dir)
        if index is not None:
            _index_moved_on(index, instances_dir)
    except BaseException:
        import shutil  # only here: every command imports this module

        shutil.rmtree(tmp, ignore_errors=True)
        if made_checkpoints:
            shutil.rmtree(checkpoints, ignore_errors=True)  # type: ignore[arg-type]
        raise
    return InstancePaths(final)


def _index_created(instances_dir: Path, state: Mapping[str, Any], document: Mapping[str, Any]) -> Any:
    """Add the new instance's row to the home's index (made if missing); None when there is no index to use."""
    from workflow_cli.store import index, indexed
    from workflow_cli.store.indexed import open_index

    try:
        conn = open_index(Home(instances_dir.parent), write=True)  # made (and filled) if missing
        if conn is None:
            return None
        expected = document.get("expected_duration_seconds")
        expected = float(expected) if isinstance(expected, (int, float)) and expected > 0 else None
        before = indexed.fingerprint_before(instances_dir)
        index.upsert_created(conn, index.summary_of(state), expected)
        return conn, before
    except (sqlite3.Error, OSError):
        return None  # the index is a cache: the next reader finds the folder by its fingerprint


def _index_moved_on(handle: Any, instances_dir: Path) -> None:
    from workflow_cli.store import indexed

    conn, before = handle
    try:
        indexed.moved_on(conn, instances_dir, before)
    except (sqlite3.Error, OSError):
        pass


def _missing(path: Path, what: str) -> StateError:
    return StateError(f"{path}: the {what} of this instance is missing; restore it from a backup, "
                      f"or remove the instance folder {path.parent}")


def _read(path: Path, what: str) -> Any:
    try:
        return read_json(path, what=what)
    except FileNotFoundError as exc:
        raise _missing(path, what) from exc


def read_header(paths: InstancePaths) -> dict[str, Any]:
    """The instance's header; a newer format than this tool knows is refused."""
    header = check_header(_read(paths.header, "instance header"), paths.header, paths.id)
    if header.get("format", 0) > HEADER_FORMAT:
        raise StateError(f"{paths.header}: written by a newer release of workflow-cli (format {header.get('format')})")
    return header


def read_document(paths: InstancePaths) -> dict[str, Any]:
    """The resolved workflow document the instance runs."""
    doc = _read(paths.document, "instance document")
    if not isinstance(doc, dict):
        raise StateError(f"{paths.document}: corrupt instance document: not a mapping")
    if doc.get("version") == CURRENT_DOCUMENT_VERSION:
        return check_document(doc, paths.document)  # the common case: the migration code is not even loaded
    from workflow_cli.model.migrations import migrate_instance_document

    return check_document(migrate_instance_document(doc, where=str(paths.document)), paths.document)


def read_secrets(paths: InstancePaths) -> dict[str, Any]:
    """Secret parameter values (empty when the template declares none), decrypted.

    A plaintext file of an older release is read as it is and rewritten encrypted (when the folder is
    writable); a key that cannot open the file raises :class:`~.secret_box.SecretKeyError` (exit 2).
    """
    if not paths.secrets.exists():
        return {}
    from workflow_cli.store.secret_box import is_sealed, seal, unseal

    data = _read(paths.secrets, "secrets file")
    if is_sealed(data):
        return unseal(data, str(paths.secrets))
    if not isinstance(data, dict):
        raise StateError(f"{paths.secrets}: corrupt secrets file: not a mapping; create the instance again")
    try:
        write_json_atomic(paths.secrets, seal(data), mode=0o600)
    except OSError:
        pass  # a read-only copy: used as it is, encrypted by the next run that can write
    return dict(data)


def load_state(paths: InstancePaths, *, verify: bool = True) -> dict[str, Any]:
    """The current state: the snapshot plus every event logged after it, checked against the other files.

    ``verify=False`` (overviews that read every instance: ``list``, ``health``) skips the cross-checks
    with ``instance.json``, ``workflow.json`` and the checkpoint index when a snapshot exists; the
    snapshot and the log are still checked. Commands on one instance always verify.

    Raises:
        StateError: a file is missing, corrupt, of the wrong shape, or disagrees with the event log.
    """
    snapshot: Path | None = paths.snapshot
    try:
        state = check_state(read_json(paths.snapshot, what="state snapshot",
                                      way_out=f"delete {paths.snapshot} to rebuild it from the event log"), paths.snapshot)
    except FileNotFoundError:
        state, snapshot, verify = None, None, True
    if verify:
        header = read_header(paths)
        doc = _read(paths.document, "instance document")
        if not (isinstance(doc, dict) and isinstance(doc.get("tasks"), dict)):
            doc = read_document(paths)  # an older schema (1.0.0 had a task list) is migrated, then checked
        check_document(doc, paths.document)
        if state is None:
            state = new_state(header, list(doc["tasks"]))
        else:
            check_tasks_match(state, doc, paths.snapshot, paths.document)
    assert state is not None
    if state.get("format", 0) > 1:
        raise StateError(f"{paths.snapshot}: written by a newer release of workflow-cli")
    try:
        log = summarize_log(paths.events, since_seq=state["last_seq"])
    except FileNotFoundError as exc:
        raise _missing(paths.events, "event log") from exc
    check_against_log(state, log, snapshot, paths.events)
    if verify:
        check_index(paths.checkpoint_index, log)  # read after the log: a live runner indexes before it logs
    return replay(state, log.events) if log.events else state


def instance_dirs(instances_dir: Path) -> list[InstancePaths]:
    """Every instance folder, oldest first (ids sort by creation time)."""
    if not instances_dir.is_dir():
        return []
    return [InstancePaths(p) for p in sorted(instances_dir.iterdir()) if p.is_dir() and not p.name.startswith(".")]
