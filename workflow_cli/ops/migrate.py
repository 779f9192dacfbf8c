"""``migrate status``, ``migrate run`` and ``migrate all`` (SPEC 11), and the in-memory upgrade of loaded sources.

A run plans every file first (``--dry-run`` stops there), then, under the home lock, backs each file up
and replaces it atomically. An instance is only changed while this process holds its runner lock, so a
live runner never sees its document change under it (exit 5 instead).
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workflow_cli.errors import ConflictError, InvalidInputError, NotFoundError, WorkflowError, did_you_mean
from workflow_cli.model.migrations import KNOWN_VERSIONS, migrate_document, needs_migration
from workflow_cli.model.validate import CURRENT_VERSION
from workflow_cli.ops.notes import NOTE_SINK, source_notes  # noqa: F401 (source_notes re-exported)
from workflow_cli.ops.migrate_files import Backups, FilePlan, apply_plan, inspect_template, instance_version, plan_instance
from workflow_cli.ops.sources import TEMPLATE_SUFFIXES, LoadedSource, builtin_templates_dir, discover_templates, looks_like_path
from workflow_cli.store.home import Home
from workflow_cli.store.instances import InstancePaths, instance_dirs

_NOTE_SINK = NOTE_SINK


def upgrade_in_memory(source: LoadedSource, *, shown: str, target: str) -> LoadedSource:
    """``source`` with an old-version document migrated in memory, and a note saying so to the active sink.

    Raises:
        InvalidInputError: the old document breaks its own version's schema (paths as in the file).
    """
    if not needs_migration(source.document):
        return source
    old = source.document["version"]
    document, _ = migrate_document(source.document)
    sink = _NOTE_SINK.get()
    if sink is not None:
        sink(f"{shown}: migrated in memory from {old} to {document['version']} "
             f"(run 'workflow-cli migrate run --workflow-id {shlex.quote(target)}' to upgrade the file)")
    return LoadedSource(document, source.template, source.origin, migrated_from=old)


@dataclass
class Item:
    """One template, instance or file: its version, what happened to it, and the files involved."""

    kind: str
    name: str
    version: str
    status: str = "current"
    plans: list[FilePlan] = field(default_factory=list)
    backups: list[Path] = field(default_factory=list)
    error: WorkflowError | None = None
    path: str = ""

    def to_json(self, *, diffs: bool = True) -> dict[str, Any]:
        """The item as a JSON object (``diff`` per file only when asked)."""
        files = []
        for i, plan in enumerate(self.plans):
            entry: dict[str, Any] = {"path": str(plan.path), "from": plan.before, "to": plan.after, "steps": list(plan.steps)}
            entry["backup"] = str(self.backups[i]) if i < len(self.backups) else None
            if diffs:
                entry["diff"] = plan.diff
            files.append(entry)
        data: dict[str, Any] = {"kind": self.kind, "name": self.name, "version": self.version, "status": self.status,
                                "path": self.path, "files": files}
        if self.error is not None:
            data["error"] = str(self.error)
        return data


@dataclass(frozen=True)
class MigrationReport:
    """What ``migrate run``/``migrate all`` did, or would do with ``--dry-run``."""

    dry_run: bool
    items: list[Item]
    backup_dir: Path | None = None

    @property
    def changed(self) -> list[Item]:
        """Items migrated (or that would be, in a dry run)."""
        return [item for item in self.items if item.plans and item.error is None]

    @property
    def exit_code(self) -> int:
        """0 when nothing failed, else the exit code of the first problem (2 invalid, 5 live runner...)."""
        return next((item.error.exit_code for item in self.items if item.error is not None), 0)

    def to_json(self) -> dict[str, Any]:
        """``{"dry_run", "backup_dir", "changed", "items"}``."""
        return {"dry_run": self.dry_run, "current_version": CURRENT_VERSION,
                "backup_dir": str(self.backup_dir) if self.backup_dir else None,
                "changed": sum(len(item.plans) for item in self.changed), "items": [item.to_json() for item in self.items]}


def _template_item(name: str, path: Path, kind: str = "template") -> Item:
    """A home template (or a document file) and its plan."""
    item = Item(kind, name, "?", path=str(path))
    try:
        item.version, plan = inspect_template(path)
    except WorkflowError as exc:
        item.status, item.error = "error", exc
        return item
    if plan is not None:
        item.status, item.plans = "needs migration", [plan]
    return item


def _instance_item(paths: InstancePaths) -> Item:
    """An instance and the plans of its files."""
    item = Item("instance", paths.id, instance_version(paths), path=str(paths.root))
    try:
        item.plans = plan_instance(paths)
    except WorkflowError as exc:
        item.status, item.error = "error", exc
        return item
    if item.plans:
        item.status = "needs migration"
    return item


def _home_templates(home: Home) -> dict[str, Path]:
    return {name: ref.path for name, ref in discover_templates(home).items() if ref.source == "home"}


def _builtin_items() -> list[Item]:
    """Built-in templates: shipped at the current version, never migrated."""
    folder = builtin_templates_dir()
    files = sorted(p for p in folder.iterdir() if p.suffix in TEMPLATE_SUFFIXES) if folder.is_dir() else []
    return [Item("builtin", path.stem, CURRENT_VERSION, path=str(path)) for path in files]


def migration_status(home: Home) -> dict[str, Any]:
    """Counts per version of the home's templates and instances, and what needs migrating (nothing is written)."""
    templates = [_template_item(name, path) for name, path in _home_templates(home).items()]
    instances = [_instance_item(paths) for paths in instance_dirs(home.instances)]
    counts: dict[str, dict[str, int]] = {"templates": {}, "instances": {}}
    for key, items in (("templates", templates), ("instances", instances)):
        for item in items:
            counts[key][item.version] = counts[key].get(item.version, 0) + 1
    everything = templates + instances
    return {
        "current_version": CURRENT_VERSION,
        "known_versions": list(KNOWN_VERSIONS),
        "counts": counts,
        "needs_migration": sum(1 for item in everything if item.status == "needs migration"),
        "errors": sum(1 for item in everything if item.error is not None),
        "templates": [item.to_json(diffs=False) for item in templates + _builtin_items()],
        "instances": [item.to_json(diffs=False) for item in instances],
    }


def _resolve(home: Home, target: str) -> Item:
    """The item ``--workflow-id`` names: a document file, an instance id, a home template or an instance id prefix."""
    from workflow_cli.store.ids import resolve_instance_id

    if not target.strip():
        raise InvalidInputError.at("--workflow-id", "expected an instance id, a home template's name or a document file")
    if looks_like_path(target):
        return _template_item(target, Path(target).expanduser(), kind="file")
    if (home.instances / target).is_dir():
        return _instance_item(InstancePaths(home.instances / target))
    templates = discover_templates(home)
    if target in templates:
        ref = templates[target]
        if ref.source != "home":
            return Item("builtin", target, CURRENT_VERSION, path=str(ref.path))
        return _template_item(target, ref.path)
    try:
        return _instance_item(InstancePaths(home.instances / resolve_instance_id(home.instances, target)))
    except NotFoundError:
        hint = did_you_mean(target, list(templates))
        raise NotFoundError(f"no instance or home template named '{target}'" + (f" ({hint})" if hint else "")) from None


def _apply(item: Item, backups: Backups) -> None:
    """Back up and replace the item's files; an instance only while its runner lock is held here."""
    from workflow_cli.store.locks import InstanceLock

    if item.kind != "instance":
        # the backup keeps the name the home knows the template by, even when the file is a symlink
        item.backups = [apply_plan(plan, backups, Path(item.path)) for plan in item.plans]
        return
    lock = InstanceLock(InstancePaths(Path(item.path)).lock)
    if not lock.acquire():
        raise _live(item)
    try:
        item.backups = [apply_plan(plan, backups) for plan in item.plans]
    finally:
        lock.release()


def _live(item: Item) -> ConflictError:
    return ConflictError(f"instance {item.name}: a live runner holds it; wait for it to finish or stop it, then migrate")


def _process(home: Home, items: list[Item], *, dry_run: bool, clock: Callable[[], float] | None) -> MigrationReport:
    """Apply every item's plans (unless ``dry_run``); a failing item is recorded and the others go on."""
    from workflow_cli.store.locks import home_lock, is_locked

    backups = Backups(home, clock=clock or time.time)
    writes = not dry_run and any(item.plans and item.error is None for item in items)
    with home_lock(home.root) if writes else nullcontext():
        for item in items:
            if item.error is not None or not item.plans:
                continue
            if item.kind == "instance" and dry_run and is_locked(InstancePaths(Path(item.path)).lock):
                item.status, item.error = "error", _live(item)
                continue
            if dry_run:
                item.status = "would migrate"
                continue
            try:
                _apply(item, backups)
            except WorkflowError as exc:
                item.status, item.error = "error", exc
                continue
            item.status = "migrated"
    return MigrationReport(dry_run, items, backups.root)


def migrate_one(home: Home, target: str, *, dry_run: bool = False, clock: Callable[[], float] | None = None) -> MigrationReport:
    """Migrate one instance, home template or document file; its problem is raised (exit 2, 4 or 5).

    Raises:
        NotFoundError: nothing is named ``target``.
        WorkflowError: the item cannot be migrated (invalid old document, live runner...).
    """
    item = _resolve(home, target)
    report = _process(home, [item], dry_run=dry_run, clock=clock)
    if item.error is not None:
        raise item.error
    return report


def migrate_all(home: Home, *, dry_run: bool = False, clock: Callable[[], float] | None = None) -> MigrationReport:
    """Migrate every home template and instance; a failing one is reported and the others still migrate."""
    items = [_template_item(name, path) for name, path in _home_templates(home).items()]
    items += [_instance_item(paths) for paths in instance_dirs(home.instances)]
    return _process(home, items, dry_run=dry_run, clock=clock)
