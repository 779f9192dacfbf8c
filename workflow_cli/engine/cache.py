"""The runner's side of the result cache (SPEC 3 ``cache``): look up before an attempt, store after success.

The entry of an attempt is named by the hash of its rendered ``cache.key``, its action and its rendered
parameters (:func:`workflow_cli.store.cache.entry_hash`). A fresh entry (within ``ttl_seconds``) is used
instead of running the action: the task (or foreach item) completes with ``"cached": true``. With
``--no-cache`` nothing is read, but successful results are still stored. A loop is cached as a whole:
the key is computed for its first iteration and its final outputs are stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from workflow_cli.engine.context import RunContext
from workflow_cli.model.document import Task
from workflow_cli.model.states import EventType


class ResultCache:
    """Looks results up in the home's cache and stores successful ones."""

    def __init__(self, run: RunContext) -> None:
        self.run = run
        self._files: Any = None

    def _cache(self) -> Any:
        """The home's result cache (opened on first use)."""
        if self._files is None:
            from workflow_cli.store.cache import ResultCache as Files

            self._files = Files(self.run.home.cache)
        return self._files

    def lookup(self, task: Task, scope: Mapping[str, Any] | None, parameters: Mapping[str, Any]) -> tuple[str, dict[str, Any] | None]:
        """(entry hash, the fresh entry or None); raises when the key cannot be evaluated."""
        from workflow_cli.store.cache import entry_hash
        from workflow_cli.templates.render import evaluate

        run = self.run
        spec = task.cache or {}
        key = evaluate(str(spec.get("key")), scope if scope is not None else run.scope(task))
        digest = entry_hash(key, task.action, parameters)
        if run.options.no_cache:
            return digest, None
        entry: dict[str, Any] | None = self._cache().get(digest, run.clock.time())
        return digest, entry

    def store(self, task: Task, digest: str | None, outputs: Any) -> None:
        """Keep a successful result; a cache that cannot be written is reported, never fatal."""
        if not digest:
            return
        run = self.run
        about = {"task": task.id, "template": run.state.get("template"), "instance": run.paths.id, "action": task.action}
        try:
            self._cache().put(digest, outputs, now=run.clock.time(), ttl_seconds=(task.cache or {}).get("ttl_seconds"), about=about)
        except (OSError, ValueError, TypeError) as exc:
            run.journal.record(EventType.TASK_WARNING, {"task": task.id, "error": f"cache entry not stored: {exc}"})
