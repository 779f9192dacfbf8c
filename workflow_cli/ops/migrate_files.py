"""What migrating one file means (SPEC 11): its new bytes, a readable diff, a backup, an atomic replace.

A :class:`FilePlan` is computed without writing anything (``--dry-run`` stops there). :func:`apply_plan`
writes the backup first, then replaces the file atomically, so a crash leaves every file either old or
new, and an old file's content is always in the backup folder before the file changes.
"""

from __future__ import annotations

import difflib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from workflow_cli.errors import ConflictError, InvalidInputError, Issue, StateError
from workflow_cli.model.loader import load_document
from workflow_cli.model.migrations import (
    document_version,
    migrate_document,
    migrate_format,
    needs_migration,
    record_format,
    unsupported_version_issue,
)
from workflow_cli.model.validate import CURRENT_VERSION
from workflow_cli.store.atomic import dumps_json, read_json, write_bytes_atomic
from workflow_cli.store.events import EVENT_FORMAT
from workflow_cli.store.home import Home, make_private_dir
from workflow_cli.store.instances import HEADER_FORMAT, InstancePaths
from workflow_cli.store.state import STATE_FORMAT

# The format each instance file is written in by this release (the targets of FORMAT_STEPS).
CURRENT_FORMATS: dict[str, int] = {"instance.json": HEADER_FORMAT, "state.json": STATE_FORMAT, "events.jsonl": EVENT_FORMAT}


@dataclass(frozen=True)
class FilePlan:
    """One file to change: what it holds now, what it will hold, and the steps in between."""

    path: Path
    before: str
    after: str
    steps: tuple[str, ...]
    old_bytes: bytes
    new_bytes: bytes
    diff: str
    mode: int = 0o600


def _pretty_json(doc: Any) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _yaml_text(doc: Any) -> str:
    import yaml

    return str(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, default_flow_style=False, width=100))


def _diff(path: Path, old: str, new: str) -> str:
    """A unified diff between two texts, labelled with the file."""
    lines = difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                 fromfile=f"{path} (now)", tofile=f"{path} (migrated)")
    return "".join(lines)


def _file_mode(path: Path) -> int:
    return os.stat(path).st_mode & 0o777


def _bytes_first(path: Path) -> bytes:
    """The file's bytes, read before it is parsed: an edit after this makes apply_plan refuse the stale plan."""
    try:
        return path.read_bytes()
    except OSError:
        return b""  # the parser that follows reports the problem with its path


def _checked_current(new: dict[str, Any], path: Path) -> None:
    """Validate before write: a migrated document must pass the current schema."""
    from workflow_cli.model.schema import schema_issues

    issues = schema_issues(new)
    if issues:
        raise InvalidInputError(f"{path}: the migrated document does not pass the current schema: "
                                + "; ".join(str(issue) for issue in issues), issues)


def inspect_template(path: Path) -> tuple[str, FilePlan | None]:
    """A template file's version, and the plan that brings it to the current one (None when it is current).

    Raises:
        InvalidInputError: the file does not parse, or its version is missing, unknown, newer, or broken.
        NotFoundError: the file does not exist.
    """
    real = path.resolve()  # a symlinked template is migrated where it really lives
    old_bytes = _bytes_first(real)
    doc = load_document(real)
    version = document_version(doc)
    if version == CURRENT_VERSION:
        return version, None
    if version is None or not needs_migration(doc):
        problem = (unsupported_version_issue(version) if version else None) or Issue("version", "missing or not a string")
        raise InvalidInputError(None, [Issue(f"{path}:{problem.path}", problem.message, problem.hint)])
    try:
        new, steps = migrate_document(doc)
    except InvalidInputError as exc:
        raise InvalidInputError(None, [Issue(f"{path}:{i.path}", i.message, i.hint) for i in exc.issues]) from exc
    _checked_current(new, path)
    old_text = old_bytes.decode("utf-8-sig")
    new_text = _pretty_json(new) if real.suffix.lower() == ".json" else _leading_comments(old_text) + _yaml_text(new)
    # the diff is between the file as it is and as it will be: reformatting shows too
    return version, FilePlan(real, version, str(new["version"]), tuple(steps), old_bytes,
                             new_text.encode("utf-8"), _diff(path, old_text, new_text), _file_mode(real))


def _leading_comments(text: str) -> str:
    """The comment block at the top of a YAML file (kept; comments further down are lost by the rewrite)."""
    kept = []
    for line in text.splitlines(keepends=True):
        if line.strip() and not line.lstrip().startswith("#"):
            break
        kept.append(line)
    return "".join(kept)


def plan_instance_document(paths: InstancePaths) -> FilePlan | None:
    """The plan for an instance's ``workflow.json`` when it holds an old version."""
    old_bytes = _bytes_first(paths.document)
    doc = _read_state_file(paths.document, "instance document")
    if not isinstance(doc, dict) or not needs_migration(doc):
        return None
    try:
        new, steps = migrate_document(doc)
    except InvalidInputError as exc:
        raise StateError(f"{paths.document}: cannot migrate the instance's {doc['version']} document: {exc}") from exc
    _checked_current(new, paths.document)
    return FilePlan(paths.document, str(doc["version"]), str(new["version"]), tuple(steps), old_bytes,
                    (dumps_json(new) + "\n").encode("utf-8"), _diff(paths.document, _pretty_json(doc), _pretty_json(new)),
                    _file_mode(paths.document))


def _read_state_file(path: Path, what: str) -> Any:
    try:
        return read_json(path, what=what)
    except FileNotFoundError as exc:
        raise StateError(f"{path}: the {what} of this instance is missing; restore it from a backup") from exc


def plan_record_file(path: Path, file: str) -> FilePlan | None:
    """The plan for ``instance.json`` or ``state.json`` when its format is older than this release's."""
    if not path.exists():
        return None  # state.json is optional (rebuilt from events)
    old_bytes = _bytes_first(path)
    record = _read_state_file(path, file)
    current = CURRENT_FORMATS[file]
    found = record_format(file, record) if isinstance(record, dict) else None
    if found is None or found == current:
        return None  # a missing format is the store's to judge when it reads the file
    new, steps = migrate_format(file, record if isinstance(record, dict) else {}, current=current)
    return FilePlan(path, str(found), str(current), tuple(steps), old_bytes, (dumps_json(new) + "\n").encode("utf-8"),
                    _diff(path, _pretty_json(record), _pretty_json(new)), _file_mode(path))


def plan_event_log(path: Path) -> FilePlan | None:
    """The plan for ``events.jsonl`` when some event is of an older format (lines that do not parse are kept)."""
    if not path.exists():
        return None
    raw = path.read_bytes()
    current = CURRENT_FORMATS["events.jsonl"]
    old_lines, new_lines, steps, oldest = raw.splitlines(keepends=True), [], [], current
    for line in old_lines:
        try:
            event = json.loads(line)
        except ValueError:
            new_lines.append(line)  # a torn last line: readers ignore it, so it is kept as it is
            continue
        found = record_format("events.jsonl", event) if isinstance(event, dict) else None
        if found is None or found >= current:
            new_lines.append(line)
            continue
        oldest = min(oldest, found)
        new, applied = migrate_format("events.jsonl", event, current=current)
        steps += [step for step in applied if step not in steps]
        new_lines.append((dumps_json(new) + "\n").encode("utf-8"))
    if not steps:
        return None
    new_raw = b"".join(new_lines)
    return FilePlan(path, str(oldest), str(current), tuple(steps), raw, new_raw,
                    _diff(path, raw.decode("utf-8", "replace"), new_raw.decode("utf-8", "replace")), _file_mode(path))


def plan_instance(paths: InstancePaths) -> list[FilePlan]:
    """Every file of one instance that needs migrating: its document and its own file formats."""
    plans = [
        plan_record_file(paths.header, "instance.json"),
        plan_instance_document(paths),
        plan_record_file(paths.snapshot, "state.json"),
        plan_event_log(paths.events),
    ]
    return [plan for plan in plans if plan is not None]


def instance_version(paths: InstancePaths) -> str:
    """The schema version of an instance's document (``?`` when it cannot be read)."""
    try:
        doc = read_json(paths.document, what="instance document")
    except (FileNotFoundError, StateError):
        return "?"
    return (document_version(doc) if isinstance(doc, dict) else None) or "?"


class Backups:
    """The backup folder of one migrate run, ``<home>/backups/<UTC timestamp>/``, made on first use."""

    def __init__(self, home: Home, *, clock: Callable[[], float] = time.time) -> None:
        self.home = home
        self.clock = clock
        self.root: Path | None = None

    def _open(self) -> Path:
        base = make_private_dir(self.home.root / "backups")
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(self.clock()))
        for n in range(1000):
            folder = base / (stamp if n == 0 else f"{stamp}-{n}")
            try:
                folder.mkdir(mode=0o700)
            except FileExistsError:
                continue
            return folder
        raise ConflictError(f"{base}: could not create a new backup folder for {stamp}")

    def relative(self, path: Path, shown: Path | None = None) -> Path:
        """Where ``path`` goes inside the backup folder: its path in the home, else ``files/<absolute path>``."""
        for candidate in (shown, path):
            if candidate is not None and candidate.is_relative_to(self.home.root):
                return candidate.relative_to(self.home.root)
        return Path("files") / path.resolve().relative_to(path.resolve().anchor)

    def save(self, path: Path, data: bytes, shown: Path | None = None) -> Path:
        """Write ``data`` (the file's content before the change) to the backup folder; returns the backup's path."""
        if self.root is None:
            self.root = self._open()
        target = self.root / self.relative(path, shown)
        folder = self.root
        for part in target.parent.relative_to(self.root).parts:
            folder = make_private_dir(folder / part)
        write_bytes_atomic(target, data, mode=0o600)
        return target


def apply_plan(plan: FilePlan, backups: Backups, shown: Path | None = None) -> Path:
    """Back the file up, then replace it atomically with its new content; returns the backup's path.

    Raises:
        ConflictError: the file changed since it was planned (someone edited it meanwhile).
    """
    if plan.path.read_bytes() != plan.old_bytes:
        raise ConflictError(f"{plan.path}: the file changed while it was being migrated; run the migration again")
    backup = backups.save(plan.path, plan.old_bytes, shown)
    write_bytes_atomic(plan.path, plan.new_bytes, mode=plan.mode)
    return backup

