"""Webhook and file triggers of home templates (SPEC 18.3).

A triggered run is created like ``create`` with the trigger's ``params`` rendered with ``trigger``
(``type``, ``name``, ``payload``, ``headers``, ``path``, ``time``) in scope; the trigger is recorded in
the instance. It starts through the queue when a cap is set. What fired is recorded under
``<home>/triggers/`` so a redelivered webhook returns its first run and a file fires once, across
restarts of ``serve`` and from ``tick``.
"""

from __future__ import annotations

import fcntl
import glob
import hashlib
import hmac
import json
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from workflow_cli.errors import InvalidInputError, NotFoundError, WorkflowError, did_you_mean
from workflow_cli.store.atomic import read_json, write_json_atomic
from workflow_cli.store.home import Home, make_private_dir

DEFAULT_SETTLE_SECONDS = 2.0
Starter = Callable[[Home, str], None]


@dataclass(frozen=True)
class Trigger:
    """One entry of a home template's ``triggers`` list."""

    template: str
    index: int
    kind: str  # "webhook" or "files"
    spec: Mapping[str, Any]
    params: Mapping[str, Any] = field(default_factory=dict)
    emit: Mapping[str, Any] | None = None  # a webhook that broadcasts an event instead of starting a run

    @property
    def name(self) -> str:
        """The webhook's name, or the files trigger's glob."""
        return str(self.spec.get("name") if self.kind == "webhook" else self.spec.get("path"))


_cache: dict[Path, tuple[int, list[Trigger]]] = {}


def _template_triggers(name: str, path: Path) -> list[Trigger]:
    """The triggers of one template file (re-read only when the file changed)."""
    from workflow_cli.model.loader import load_document

    mtime = path.stat().st_mtime_ns
    cached = _cache.get(path)
    if cached and cached[0] == mtime:
        return cached[1]
    try:
        doc = load_document(path)
    except WorkflowError:
        doc = {}
    found = []
    for i, entry in enumerate(doc.get("triggers") or [] if isinstance(doc, Mapping) else []):
        if not isinstance(entry, Mapping):
            continue
        kind = "webhook" if isinstance(entry.get("webhook"), Mapping) else "files" if isinstance(entry.get("files"), Mapping) else None
        if kind:
            emit = entry.get("emit") if kind == "webhook" and isinstance(entry.get("emit"), Mapping) else None
            found.append(Trigger(name, i, kind, entry[kind], entry.get("params") or {}, emit))
    _cache[path] = (mtime, found)
    return found


def home_triggers(home: Home, kind: str | None = None) -> list[Trigger]:
    """Every trigger of the home's templates (built-in templates have none)."""
    from workflow_cli.ops.sources import discover_templates

    out: list[Trigger] = []
    for ref in discover_templates(home).values():
        if ref.source == "home":
            try:
                out += [t for t in _template_triggers(ref.name, ref.path) if kind in (None, t.kind)]
            except OSError:
                continue
    return out


def start_triggered(home: Home, trigger: Trigger, scope: Mapping[str, Any], start: Starter) -> str:
    """Create the run of one firing (params rendered with ``trigger`` in scope) and start it; returns its id."""
    from workflow_cli.ops.create import create_instance
    from workflow_cli.templates.render import ExpressionError, render_value

    try:
        params = render_value(dict(trigger.params), {"trigger": dict(scope)})
    except ExpressionError as exc:
        raise InvalidInputError.at(f"{trigger.template}: triggers[{trigger.index}].params", str(exc)) from exc
    created = create_instance(home, trigger.template, overrides=params, trigger=scope)
    start(home, created.id)
    return created.id


# -- webhooks ---------------------------------------------------------------------------------------

def find_webhook(home: Home, name: str) -> Trigger:
    """The webhook trigger called ``name`` (NotFoundError otherwise)."""
    hooks = home_triggers(home, "webhook")
    for hook in hooks:
        if hook.name == name:
            return hook
    hint = did_you_mean(name, [h.name for h in hooks]) or "webhooks are declared in home templates' triggers"
    raise NotFoundError(f"no webhook named '{name}' in {home.root} ({hint})")


def signature_ok(hook: Trigger, body: bytes, header: str | None) -> bool:
    """Whether ``X-Hub-Signature-256: sha256=<hex>`` is the HMAC-SHA256 of ``body`` under the hook's secret."""
    secret = os.environ.get(str(hook.spec.get("secret_env") or "")) if hook.spec.get("secret_env") else None
    if not secret or not header or not header.startswith("sha256="):
        return False
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, header[len("sha256="):].strip().lower())


def _delivery_path(home: Home, hook: str, delivery: str) -> Path:
    digest = hashlib.sha256(f"{hook}\0{delivery}".encode("utf-8")).hexdigest()
    return home.root / "triggers" / "deliveries" / f"{digest}.json"


def _recorded_delivery(home: Home, hook: Trigger, delivery: str | None) -> dict[str, Any] | None:
    """What an earlier delivery with this id did (GitHub redelivers with the same id), else None."""
    if not delivery:
        return None
    try:
        return dict(read_json(_delivery_path(home, hook.name, delivery), what="webhook delivery"))
    except FileNotFoundError:
        return None


def _record_delivery(home: Home, hook: Trigger, delivery: str | None, now_iso: str, **outcome: Any) -> None:
    """Remember what this delivery did (``instance`` or ``event``), so that a redelivery returns it."""
    if not delivery:
        return
    path = _delivery_path(home, hook.name, delivery)
    make_private_dir(path.parent)
    write_json_atomic(path, {"format": 1, "webhook": hook.name, "delivery": delivery, **outcome, "time": now_iso})


def _webhook_scope(hook: Trigger, payload: Any, headers: Mapping[str, str], delivery: str | None,
                   now_iso: str) -> dict[str, Any]:
    """``trigger`` in the scope of a webhook's ``params`` or ``emit`` (SPEC 18.3)."""
    return {"type": "webhook", "name": hook.name, "payload": payload, "headers": dict(headers), "path": None,
            "time": now_iso, "delivery": delivery}


def fire_webhook(home: Home, hook: Trigger, payload: Any, headers: Mapping[str, str], *, delivery: str | None,
                 now_iso: str, start: Starter) -> tuple[str, bool]:
    """Start the hook's run, or return the run a delivery with the same id started: (id, new)."""
    record = _recorded_delivery(home, hook, delivery)
    if record is not None:
        return str(record["instance"]), False
    instance_id = start_triggered(home, hook, _webhook_scope(hook, payload, headers, delivery, now_iso), start)
    _record_delivery(home, hook, delivery, now_iso, instance=instance_id)
    return instance_id, True


def emit_webhook(home: Home, hook: Trigger, payload: Any, headers: Mapping[str, str], *, delivery: str | None,
                 now_iso: str, emit: Callable[[Mapping[str, Any], str], dict[str, Any]]) -> tuple[dict[str, Any], bool]:
    """Broadcast the hook's event (``emit`` delivers it), or return what a delivery with the same id did: (result, new).

    The event's ``name``, ``key``, ``template`` and ``data`` (default: the payload) are rendered with
    ``trigger`` in scope. A redelivered webhook carries the same event id, so an instance that took it
    the first time (a crash before the delivery was recorded) ignores it.
    """
    from workflow_cli.ops.events import new_event_id
    from workflow_cli.templates.render import ExpressionError, render_value

    record = _recorded_delivery(home, hook, delivery)
    if record is not None:
        return dict(record["event"]), False
    scope = _webhook_scope(hook, payload, headers, delivery, now_iso)
    spec = dict(hook.emit or {})
    try:
        rendered = render_value(spec, {"trigger": scope})
    except ExpressionError as exc:
        raise InvalidInputError.at(f"{hook.template}: triggers[{hook.index}].emit", str(exc)) from exc
    if "data" not in spec:
        rendered["data"] = payload
    event_id = "ev-hook-" + hashlib.sha256(f"{hook.name}\0{delivery}".encode("utf-8")).hexdigest()[:32] if delivery else new_event_id()
    result = emit(rendered, event_id)
    _record_delivery(home, hook, delivery, now_iso, event=result)
    return result, True


# -- files ------------------------------------------------------------------------------------------

@contextmanager
def _files_lock(home: Home) -> Iterator[bool]:
    """One process at a time looks at the drop folders (``serve`` and a cron ``tick``)."""
    folder = make_private_dir(home.root / "triggers")
    fd = os.open(folder / "files.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)


def _fired_keys(path: Path) -> set[str]:
    """Keys of every file that already fired (one JSON line each in ``files.jsonl``)."""
    keys: set[str] = set()
    try:
        with open(path, "rb") as fh:
            for line in fh:
                try:
                    keys.add(json.loads(line)["key"])
                except (ValueError, KeyError, TypeError):
                    continue  # a torn last line after a crash: that file fires again
    except FileNotFoundError:
        pass
    return keys


def _append_fired(path: Path, record: Mapping[str, Any]) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        os.write(fd, (json.dumps(record, sort_keys=True) + "\n").encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _settled_files(home: Home, trigger: Trigger, now: float) -> Iterator[tuple[str, str]]:
    """(key, path) of each regular file matching the glob that has not changed for ``settle_seconds``."""
    pattern = str(trigger.spec.get("path"))
    if not os.path.isabs(pattern):
        pattern = str(home.root / pattern)
    settle = float(trigger.spec.get("settle_seconds", DEFAULT_SETTLE_SECONDS))
    for name in sorted(glob.glob(pattern)):
        try:
            st = os.stat(name)
        except OSError:
            continue
        if not os.path.isfile(name) or now - st.st_mtime < settle:
            continue
        yield f"{trigger.template}\0{pattern}\0{os.path.abspath(name)}\0{st.st_dev}:{st.st_ino}", os.path.abspath(name)


def fire_file_triggers(home: Home, now: float, start: Starter | None = None) -> list[dict[str, Any]]:
    """Start one run per new settled file of every ``files`` trigger; each file fires once."""
    from workflow_cli.clock import utc_iso

    triggers = home_triggers(home, "files")
    if not triggers:
        return []
    if start is None:
        from workflow_cli.ops.queue import queue_or_start

        start = queue_or_start
    fired: list[dict[str, Any]] = []
    with _files_lock(home) as held:
        if not held:
            return fired
        record_path = home.root / "triggers" / "files.jsonl"
        done = _fired_keys(record_path)
        for trigger in triggers:
            for key, path in _settled_files(home, trigger, now):
                if key in done:
                    continue
                row: dict[str, Any] = {"template": trigger.template, "path": path}
                scope: dict[str, Any] = {"type": "files", "name": trigger.name, "payload": None, "headers": {}, "path": path, "time": utc_iso(now)}
                try:
                    row["id"] = start_triggered(home, trigger, scope, start)
                except WorkflowError as exc:
                    row["error"] = str(exc)  # recorded too: a bad file is reported once, not every second
                _append_fired(record_path, {"key": key, **row})
                done.add(key)
                fired.append(row)
    return fired
